"""Toxiproxy (Shopify's latency and fault proxy, a Go program) on 127.0.0.1: where its server
comes from, its HTTP API, and starting it. The S3 step and the tests' S3 fault fixtures both
use these.

The server is ``go install``-ed once into ``~/.cache/bigfruits-tests/toxiproxy`` when it is not
there.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from bigfruits.bench.local_servers import free_port, wait_until_answering

TOXIPROXY_VERSION = "v2.5.0"
TOXIPROXY_MODULE = f"github.com/Shopify/toxiproxy/v2/cmd/server@{TOXIPROXY_VERSION}"
TOXIPROXY_DIR = Path(os.environ.get("BIGFRUITS_TOXIPROXY_DIR",
                                    Path.home() / ".cache" / "bigfruits-tests" / "toxiproxy"))


def toxiproxy_server() -> str:
    """The Toxiproxy server's path: ``$BIGFRUITS_TOXIPROXY``, the cached build, or ``go install``
    now (Go from PATH or /usr/local/go). ``RuntimeError`` saying why when it cannot be had."""
    given = os.environ.get("BIGFRUITS_TOXIPROXY")
    if given:
        return given
    built = TOXIPROXY_DIR / "server"
    if os.access(built, os.X_OK):
        return str(built)
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None)
    if go is None:
        raise RuntimeError(f"Toxiproxy is not built and Go is not installed (go install {TOXIPROXY_MODULE})")
    TOXIPROXY_DIR.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([go, "install", TOXIPROXY_MODULE], env={**os.environ, "GOBIN": str(TOXIPROXY_DIR)},
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not os.access(built, os.X_OK):
        raise RuntimeError(f"go install {TOXIPROXY_MODULE} failed: {proc.stderr[-500:]}")
    return str(built)


class Toxiproxy:
    """Toxiproxy's HTTP API on 127.0.0.1: proxies and their toxics."""

    def __init__(self, api: str) -> None:
        self.api = api

    def call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        """One call of the API, JSON both ways; None for an empty answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def proxy(self, name: str, upstream_port: int) -> int:
        """A proxy to ``127.0.0.1:upstream_port``; returns the port it listens on."""
        port = free_port()
        self.call("POST", "/proxies", {"name": name, "listen": f"127.0.0.1:{port}",
                                       "upstream": f"127.0.0.1:{upstream_port}", "enabled": True})
        return port

    def toxic(self, proxy: str, kind: str, toxicity: float = 1.0, stream: str = "downstream",
              **attributes: Any) -> None:
        """Add a toxic (``latency``, ``reset_peer``, ``timeout``, ``slow_close``, ...) to a share
        ``toxicity`` of the proxy's connections."""
        self.call("POST", f"/proxies/{proxy}/toxics",
                  {"name": f"{kind}_{stream}", "type": kind, "stream": stream,
                   "toxicity": toxicity, "attributes": attributes})

    def clear(self, proxy: str) -> None:
        """Remove every toxic of ``proxy`` (it passes traffic unchanged again)."""
        for toxic in self.call("GET", f"/proxies/{proxy}/toxics") or []:
            self.call("DELETE", f"/proxies/{proxy}/toxics/{toxic['name']}")

    def delete_all(self) -> None:
        """Remove every proxy (a clean server for the next test)."""
        for name in self.call("GET", "/proxies") or {}:
            self.call("DELETE", f"/proxies/{name}")


def start_toxiproxy(server: str, timeout_s: float = 30.0) -> "Tuple[subprocess.Popen[Any], Toxiproxy]":
    """The server on 127.0.0.1 (a free port), once its API answers."""
    port = free_port()
    proc = subprocess.Popen([server, "-host", "127.0.0.1", "-port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Toxiproxy(f"http://127.0.0.1:{port}")
    wait_until_answering(proc, lambda: urllib.request.urlopen(client.api + "/version", timeout=2).close(),
                         "toxiproxy", timeout_s)
    return proc, client

