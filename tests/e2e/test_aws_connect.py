"""``connect`` against a real sshd on 127.0.0.1 forwarding to a local web server, then
``disconnect``, and ``terminate`` closing port 22 (the rule lives in the moto server).

moto server: cluster, security group and rule. Real sshd + ssh: the tunnel itself."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from bigfruits.bench.local_servers import free_port
from tests.support.aws.cli import built_wheel, run
from tests.support.aws.server import CALLER_IP, aws_env, boto, moto_tls, moto_url

__all__ = ["aws_env", "built_wheel", "moto_tls", "moto_url"]
SSHD = "/usr/sbin/sshd"


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-500:] if path.exists() else "(no log)"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Tuple[int, Path]]:
    """A throwaway sshd on 127.0.0.1 that accepts one generated key for the current user.

    It fails (never skips) when sshd cannot run: this test is the only one of a real tunnel.
    CI runs it as root; elsewhere install openssh-server/openssh-client and run as root."""
    missing = [name for name, found in (("sshd", os.path.exists(SSHD)), ("ssh", shutil.which("ssh")),
                                        ("ssh-keygen", shutil.which("ssh-keygen"))) if not found]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: apt-get install openssh-server openssh-client")
    if os.geteuid() != 0:
        pytest.fail("sshd with a throwaway config must run as root (privilege separation, "
                    "/run/sshd): run this test as root, as CI does")
    folder = tmp_path / "sshd"
    folder.mkdir()
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client.pub").read_text())
    port = free_port()
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nAllowTcpForwarding yes\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    log = folder / "sshd.log"
    with open(log, "wb") as err:  # the child keeps its own descriptor; ours closes here
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")],
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"sshd could not start: {_log_tail(log)}")
                time.sleep(0.1)
        yield port, folder / "client"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[int]:
    """A local web server standing in for JupyterHub."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text("hello from the master")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _ssh_rules() -> list:
    return [r["CidrIp"] for g in boto("ec2").describe_security_groups()["SecurityGroups"]
            for p in g.get("IpPermissions", []) if p.get("FromPort") == 22 for r in p["IpRanges"]]


@pytest.mark.slow
def test_connect_forwards_through_a_real_sshd(aws_env, built_wheel, sshd, web) -> None:
    ssh_port, client_key = sshd
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--no-model", "--wheel", str(built_wheel)])  # a bare cluster: no notebooks here
    pem = aws_env["tmp"] / "xdg" / "bigfruits" / "keys" / "bigfruits-key.pem"
    pem.write_bytes(client_key.read_bytes())  # the moto key pair's key stands for the real one
    local = free_port()
    args = ["connect", "--host", "127.0.0.1", "--ssh-port", str(ssh_port), "--user", "root",
            "--forward", f"{local}:{web}"]
    try:
        out = run(args).output
        assert "tunnel up in the background" in out
        # The host key went into this cluster's own known_hosts, and nowhere shared.
        cluster_id = boto("emr").list_clusters()["Clusters"][0]["Id"]
        ssh_dir = aws_env["tmp"] / "state" / "ssh"
        known = ssh_dir / "known_hosts.d" / cluster_id
        assert known.read_text().split()[1] == "ssh-ed25519"
        assert not (ssh_dir / "known_hosts").exists()
        assert _ssh_rules() == [f"{CALLER_IP}/32"]
        body = urllib.request.urlopen(f"http://127.0.0.1:{local}/index.html", timeout=10).read()
        assert body == b"hello from the master"

        assert "tunnel closed" in run(["disconnect"]).output
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{local}/index.html", timeout=5)

        run(args)  # again, then terminate closes both the tunnel and port 22
        out = run(["terminate"]).output
        assert f"port 22 closed for {CALLER_IP}/32" in out and "tunnel closed" in out
        assert _ssh_rules() == []
        assert not known.exists()  # a later cluster behind the same name starts afresh
    finally:
        run(["disconnect"], expect_ok=False)
