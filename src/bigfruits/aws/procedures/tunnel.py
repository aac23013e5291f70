"""The SSH tunnel to the master node: ``ssh -f -N`` in the background behind a control socket,
so ``disconnect`` (another process, later) can find and stop it, and its pid is known."""
from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from bigfruits.errors import AwsError, EnvironmentProblem

#: local port -> remote port on the master: JupyterHub, Spark history server, YARN UI.
DEFAULT_FORWARDS: Tuple[Tuple[int, int], ...] = ((9443, 9443), (18080, 18080), (8088, 8088))
CONNECT_TIMEOUT_S = 60


def ssh_command(
    host: str,
    user: str,
    key_path: Path,
    forwards: Sequence[Tuple[int, int]],
    control_path: Path,
    known_hosts: Path,
    port: int = 22,
) -> List[str]:
    """Pure: the exact ``ssh`` argv. ``ExitOnForwardFailure`` makes ``-f`` return only once
    every forward is listening (or fail), so success means the tunnel works."""
    cmd = [
        "ssh", "-f", "-N",
        "-M", "-S", str(control_path),
        "-i", str(key_path),
        "-p", str(port),
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", "ExitOnForwardFailure=yes",
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "ServerAliveInterval=30",
        "-o", "ConnectTimeout=20",
    ]
    for local, remote in forwards:
        cmd += ["-L", f"127.0.0.1:{local}:localhost:{remote}"]
    cmd.append(f"{user}@{host}")
    return cmd


def open_tunnel(cmd: List[str], control_path: Path) -> int:
    """Start the tunnel; returns the pid of the background ssh."""
    control_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=CONNECT_TIMEOUT_S)
    except FileNotFoundError as exc:
        raise EnvironmentProblem("ssh not found", "install an OpenSSH client") from exc
    except subprocess.TimeoutExpired as exc:
        raise AwsError("the SSH tunnel did not come up in time", "check `status` and that port 22 is open for your IP") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise AwsError(f"ssh failed: {last}", "check the cluster is WAITING and your key pair file")
    pid = tunnel_pid(control_path)
    if pid is None:
        raise AwsError("ssh started but its control socket is missing", "run `disconnect` then `connect` again")
    return pid


def _control(control_path: Path, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-S", str(control_path), "-O", command, "bigfruits-tunnel"],
        capture_output=True, text=True, timeout=20,
    )


def tunnel_pid(control_path: Path) -> Optional[int]:
    """``ssh -O check`` answers ``Master running (pid=N)``; None when no tunnel is up."""
    if not control_path.exists():
        return None
    found = re.search(r"pid=(\d+)", _control(control_path, "check").stderr)
    return int(found.group(1)) if found else None


def close_tunnel(control_path: Path, pid: Optional[int] = None) -> bool:
    """Ask the master ssh to exit; if it does not, end the pid we recorded. True if one ran."""
    running = tunnel_pid(control_path)
    if running is not None:
        _control(control_path, "exit")
        return True
    if pid is not None and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
