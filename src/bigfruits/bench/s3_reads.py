"""The benchmark's S3 step: the same real images featurized from local disk and from S3 (the moto
server behind an HTTPS front, ``S3Front``, on 127.0.0.1) through Toxiproxy adding 0, 30 and 100 ms
to every answer, each as a user runs ``bigfruits run``, in one benchmark run:
``bigfruits run`` -> Toxiproxy (latency, faults) -> ``S3Front`` (TLS, 503 SlowDown) -> moto.

Toxiproxy (Shopify's latency and fault proxy, a Go program) is ``go install``-ed once into
``~/.cache/bigfruits-tests/toxiproxy`` when it is not there; the tests use the same helpers.
moto and the proxy share this machine's cores with Spark: S3 with 0 ms added already costs CPU
a real S3 would not, so the latency figures are read against that run.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

TOXIPROXY_VERSION = "v2.5.0"
TOXIPROXY_MODULE = f"github.com/Shopify/toxiproxy/v2/cmd/server@{TOXIPROXY_VERSION}"
TOXIPROXY_DIR = Path(os.environ.get("BIGFRUITS_TOXIPROXY_DIR",
                                    Path.home() / ".cache" / "bigfruits-tests" / "toxiproxy"))
REGION = "eu-west-1"
LATENCIES_MS = (0, 30, 100)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        for toxic in self.call("GET", f"/proxies/{proxy}/toxics") or []:
            self.call("DELETE", f"/proxies/{proxy}/toxics/{toxic['name']}")

    def delete_all(self) -> None:
        for name in self.call("GET", "/proxies") or {}:
            self.call("DELETE", f"/proxies/{name}")


def _wait(proc: "subprocess.Popen[Any]", probe: Any, what: str, timeout_s: float) -> None:
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


def start_toxiproxy(server: str, timeout_s: float = 30.0) -> "Tuple[subprocess.Popen[Any], Toxiproxy]":
    """The server on 127.0.0.1 (a free port), once its API answers."""
    port = free_port()
    proc = subprocess.Popen([server, "-host", "127.0.0.1", "-port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Toxiproxy(f"http://127.0.0.1:{port}")
    _wait(proc, lambda: urllib.request.urlopen(client.api + "/version", timeout=2).close(),
          "toxiproxy", timeout_s)
    return proc, client


def self_signed_cert(folder: Path) -> Tuple[Path, Path]:
    """A certificate for 127.0.0.1 (moto over HTTPS, as S3 is)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def start_moto(timeout_s: float = 60.0) -> "Tuple[subprocess.Popen[Any], int]":
    """``moto.server`` on 127.0.0.1 (a free port, plain HTTP: ``S3Front`` gives it TLS), once
    it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(proc, lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=5).close(),
          "moto server", timeout_s)
    return proc, port


SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class S3Front:
    """An HTTPS front for the moto server on 127.0.0.1, standing in for what moto's own server
    does not do as S3 does; every request goes to moto unchanged, except as said here.

    * TLS handshakes each in the connection's own thread, and connections kept alive: moto's
      server (werkzeug) makes the handshake inside its accept loop, one connection at a time,
      and closes every connection after one answer; behind a proxy adding 100 ms that alone
      serialises all requests at ~10 a second (measured: 32 clients in parallel were no faster
      than 8), a limit of the test server that S3 does not have.
    * ``503 SlowDown`` (optional): S3 throttles a prefix under load; moto never does, and
      Toxiproxy works below HTTP. The first ``burst`` GETs of objects, then the first
      ``per_key`` attempts at every ``every``-th key, get S3's SlowDown error document
      instead: bursts of throttling, as S3 sends them while it scales. ``served_503`` counts.
    """

    def __init__(self, upstream_port: int, cert: Path, key: Path, upstream_ca: Optional[Path] = None,
                 burst: int = 0, every: int = 0, per_key: int = 0) -> None:
        self.upstream_port, self.upstream_ca = upstream_port, upstream_ca
        self.burst, self.every, self.per_key = burst, every, per_key
        self.served_503 = 0
        #: connections open at once, now and at most: how many reads a client keeps in flight
        self.open_connections = self.most_open_connections = 0
        self.attempts: Dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        front = self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()

            def _forward(self) -> None:
                body = self._body()
                if front.throttled(self.command, self.path):
                    self._answer(503, [("Content-Type", "application/xml")], SLOW_DOWN)
                    return
                status, headers, data = front.upstream(self.command, self.path, body, [
                    (k, v) for k, v in self.headers.items() if k.lower() not in HOP_HEADERS])
                self._answer(status, headers, data)

            def _answer(self, status: int, headers: List[Tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request: Any, client_address: Any) -> None:
                # the handshake here, in the connection's thread, not in the accept loop
                with front.lock:
                    front.open_connections += 1
                    front.most_open_connections = max(front.most_open_connections, front.open_connections)
                try:
                    Handler(context.wrap_socket(request, server_side=True), client_address, self)
                finally:
                    with front.lock:
                        front.open_connections -= 1

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # connections reset by the proxy's toxics: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def upstream(self, method: str, path: str, body: bytes,
                 headers: List[Tuple[str, str]]) -> Tuple[int, List[Tuple[str, str]], bytes]:
        if self.upstream_ca is None:
            connection: http.client.HTTPConnection = http.client.HTTPConnection(
                "127.0.0.1", self.upstream_port, timeout=60)
        else:
            connection = http.client.HTTPSConnection(
                "127.0.0.1", self.upstream_port, timeout=60,
                context=ssl.create_default_context(cafile=str(self.upstream_ca)))
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                connection.putheader(k, v)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            data = response.read()
            return response.status, [(k, v) for k, v in response.getheaders()
                                     if k.lower() not in HOP_HEADERS], data
        finally:
            connection.close()

    def throttled(self, method: str, path: str) -> bool:
        """GETs of objects only (a listing is ``GET /bucket?list-type=2``)."""
        if method != "GET" or "list-type" in path or path.count("/") < 2:
            return False
        with self.lock:
            if self.burst > 0:
                self.burst -= 1
                self.served_503 += 1
                return True
            if self.every and zlib.crc32(path.encode()) % self.every == 0 \
                    and self.attempts[path] < self.per_key:
                self.attempts[path] += 1
                self.served_503 += 1
                return True
        return False

    def __enter__(self) -> "S3Front":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def stop(proc: "subprocess.Popen[Any]") -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def aws_env(endpoint: str, cert: Path, scratch: Path) -> Dict[str, str]:
    """boto3 -> ``endpoint`` with fake credentials, nothing of the user's AWS set-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_CA_BUNDLE=str(cert), AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
               AWS_CONFIG_FILE=str(scratch / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(scratch / "no-aws-credentials"))
    return env


def upload(folder: str, bucket: str, env: Dict[str, str]) -> int:
    """Every file below ``folder`` to ``s3://bucket/<relative path>``, 16 at a time."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    client = boto3.session.Session().client(
        "s3", region_name=REGION, endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
        aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    files = [os.path.join(d, f) for d, _, names in os.walk(folder) for f in names]

    def put(path: str) -> None:
        with open(path, "rb") as handle:
            client.put_object(Bucket=bucket, Key=os.path.relpath(path, folder), Body=handle.read())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, files))
    return len(files)


def measure_s3_reads(cli_run: Any, folder: str, scratch: str,
                     latencies: Tuple[int, ...] = LATENCIES_MS, rounds: int = 2) -> Dict[str, Any]:
    """``cli_run(output, *args, env=...)`` on ``folder`` from local disk, then from S3 through
    Toxiproxy at each latency, ``rounds`` times (forth and back); per configuration, the best
    featurize time (other jobs on a shared machine only ever slow a run down) with every time
    measured, the failures of all rounds and the highest peak memory."""
    work = Path(scratch) / "s3_reads"
    cert, key = self_signed_cert(work / "tls")
    moto, moto_port = start_moto()
    toxi: Optional["subprocess.Popen[Any]"] = None
    front = S3Front(moto_port, cert, key).__enter__()
    try:
        toxi, api = start_toxiproxy(toxiproxy_server())
        proxy_port = api.proxy("s3", front.port)
        count = upload(folder, "bench", aws_env(f"https://127.0.0.1:{front.port}", cert, work))
        s3_env = aws_env(f"https://127.0.0.1:{proxy_port}", cert, work)
        configs: List[Optional[int]] = [None, *latencies]
        best: Dict[Optional[int], Dict[str, Any]] = {}
        for round_ in range(rounds):
            # forth, then back: a slow spell of the machine's other jobs hits every configuration
            for latency in (configs if round_ % 2 == 0 else configs[::-1]):
                if latency is None:
                    run = cli_run(str(work / "out_local"), "--input", folder)
                else:
                    api.clear("s3")
                    if latency:
                        api.toxic("s3", "latency", latency=latency)
                    run = cli_run(str(work / f"out_s3_{latency}"), "--input", "s3a://bench/", env=s3_env)
                name = "local disk" if latency is None else f"S3, {latency} ms added"
                figures = _figures(name, latency, run)
                seen = best.get(latency)
                figures["featurize_s_all"] = (seen["featurize_s_all"] if seen else []) + [figures["featurize_s"]]
                figures["images_failed"] += seen["images_failed"] if seen else 0
                figures["images_ok"] = min(figures["images_ok"], seen["images_ok"] if seen else figures["images_ok"])
                figures["peak_all_processes"] = max(figures["peak_all_processes"],
                                                    seen["peak_all_processes"] if seen else 0)
                if seen and seen["featurize_s"] < figures["featurize_s"]:
                    for key in ("featurize_s", "featurize_rate", "wall_s"):
                        figures[key] = seen[key]
                best[latency] = figures
        runs = [best[latency] for latency in configs]
        return {"images": count, "rounds": rounds, "runs": runs}
    finally:
        if toxi is not None:
            stop(toxi)
        front.__exit__()
        stop(moto)


def _figures(name: str, latency: Optional[int], run: Dict[str, Any]) -> Dict[str, Any]:
    manifest = run["manifest"]
    featurize = manifest["timings"]["featurize"]
    return {"name": name, "latency_ms": latency, "images": manifest["images_total"],
            "images_ok": manifest["images_ok"], "images_failed": manifest["images_failed"],
            "featurize_s": featurize, "featurize_rate": manifest["featurized"] / max(featurize, 1e-9),
            "wall_s": run["wall_s"], "peak_all_processes": run["peak_all_processes"]}


def s3_targets(s3: Dict[str, Any]) -> List[Tuple[str, str, Optional[bool]]]:
    """(target, measured, met) of issue 18, from the S3 step's runs."""
    by_latency = {run["latency_ms"]: run for run in s3.get("runs", [])}
    local, base = by_latency.get(None), by_latency.get(0)
    rows: List[Tuple[str, str, Optional[bool]]] = []
    for latency, floor in ((30, 0.85), (100, 0.70)):
        run = by_latency.get(latency)
        share = run["featurize_rate"] / base["featurize_rate"] if run and base else None
        rows.append((f"featurize from S3, {latency} ms added, >= {floor:.0%} of the rate with 0 ms added",
                     "not measured" if share is None else f"{share:.0%}",
                     None if share is None else share >= floor))
    if local and base:
        rows.append(("featurize from S3 (0 ms added) against local disk (reported)",
                     f"{base['featurize_rate'] / local['featurize_rate']:.0%} of local's rate", None))
        worst = max(run["peak_all_processes"] for run in s3["runs"])
        rows.append(("peak memory, all processes, S3 runs against the local run",
                     f"{worst / 2**20:.0f} MiB vs {local['peak_all_processes'] / 2**20:.0f} MiB",
                     worst <= 1.10 * local["peak_all_processes"]))
    lost = sum(run["images"] - run["images_ok"] for run in s3.get("runs", []))
    if s3.get("runs"):
        rows.append(("inputs failed or lost in the S3 runs", str(lost), lost == 0))
    return rows
