"""Server processes on 127.0.0.1 for the S3 step and the S3 tests: a free port, waiting until
a server answers, stopping it, and the moto server (S3's API, plain HTTP)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any, Callable, Tuple


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a server started next."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(proc: "subprocess.Popen[Any]", probe: Callable[[], Any], what: str,
                         timeout_s: float) -> None:
    """Call ``probe`` until it raises no ``OSError``; when ``proc`` exits or ``timeout_s``
    passes first, stop it and raise ``RuntimeError`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            probe()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.1)


def stop(proc: "subprocess.Popen[Any]") -> None:
    """Terminate, and kill when it has not exited within 10 s: nothing left running."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_moto(timeout_s: float = 60.0) -> "Tuple[subprocess.Popen[Any], int]":
    """``moto.server`` on 127.0.0.1 (a free port, plain HTTP: ``S3Front`` gives it TLS), once
    it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_answering(
        proc, lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=5).close(),
        "moto server", timeout_s)
    return proc, port
