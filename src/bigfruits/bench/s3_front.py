"""``S3Front``: an HTTPS front for the moto server on 127.0.0.1 that answers as S3 does where
moto's own server does not (TLS handshakes off the accept loop, connections kept alive, 503
SlowDown bursts). The S3 step of the benchmark and the tests that read from S3 under faults
put it between Toxiproxy and moto."""
from __future__ import annotations

import http.client
import ssl
import subprocess
import threading
import zlib
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def self_signed_cert(folder: Path) -> Tuple[Path, Path]:
    """A certificate for 127.0.0.1 (moto over HTTPS, as S3 is)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


class S3FrontHandler(BaseHTTPRequestHandler):
    """One client connection of an ``S3FrontServer``: each request forwarded to moto, or
    answered with SlowDown when the front throttles it."""

    protocol_version = "HTTP/1.1"
    server: "S3FrontServer"

    def log_message(self, *args: object) -> None:
        pass

    def _read_body(self) -> bytes:
        """The request's body, sent with a length or in chunks."""
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

    #: requests this connection received (0: it ended before a whole request, e.g. reset)
    requests = 0

    def _forward(self) -> None:
        front = self.server.front
        body = self._read_body()
        self.requests += 1
        front.count_get(self.command, self.path)
        if front.throttled(self.command, self.path):
            self._answer(503, [("Content-Type", "application/xml")], SLOW_DOWN)
            return
        status, headers, data = front.upstream(self.command, self.path, body, [
            (k, v) for k, v in self.headers.items() if k.lower() not in HOP_HEADERS])
        cut = status == 200 and front.cuts(self.command, self.path)
        self._answer(status, headers, data, cut)

    def _answer(self, status: int, headers: List[Tuple[str, str]], data: bytes, cut: bool = False) -> None:
        """The answer; ``cut``: its headers and the first half of its body, then the connection
        closed, as a connection lost mid-answer leaves it (the Content-Length says more)."""
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data[:len(data) // 2] if cut else data)
        if cut:
            self.wfile.flush()
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


class S3FrontServer(ThreadingHTTPServer):
    """The front's listening socket on 127.0.0.1 (a free port); a thread per connection, which
    makes its own TLS handshake and counts itself in ``front.open_connections``."""

    daemon_threads = True

    def __init__(self, front: "S3Front", tls: ssl.SSLContext) -> None:
        self.front, self.tls = front, tls
        super().__init__(("127.0.0.1", 0), S3FrontHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # the handshake here, in the connection's thread, not in the accept loop
        front = self.front
        with front.lock:
            front.open_connections += 1
            front.most_open_connections = max(front.most_open_connections, front.open_connections)
        handled = 0
        try:
            handled = S3FrontHandler(self.tls.wrap_socket(request, server_side=True),
                                     client_address, self).requests
        finally:
            with front.lock:
                front.open_connections -= 1
                front.connections_without_request += handled == 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # connections reset by the proxy's toxics: expected


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
    * Answers cut mid-body (optional): the first ``cut_per_key`` successful GETs of every
      object send half the body, then close the connection (``cut_answers`` counts).

    What happened is counted, so a fault test can show its faults took place: ``gets`` (GETs
    received, per object path), ``connections_without_request`` (connections that ended before
    a whole request: reset or stalled by the proxy, or a failed TLS handshake).
    """

    def __init__(self, upstream_port: int, cert: Path, key: Path, upstream_ca: Optional[Path] = None,
                 burst: int = 0, every: int = 0, per_key: int = 0, cut_per_key: int = 0) -> None:
        self.upstream_port, self.upstream_ca = upstream_port, upstream_ca
        self.burst, self.every, self.per_key, self.cut_per_key = burst, every, per_key, cut_per_key
        self.served_503 = self.cut_answers = self.connections_without_request = 0
        #: connections open at once, now and at most: how many reads a client keeps in flight
        self.open_connections = self.most_open_connections = 0
        self.attempts: Dict[str, int] = defaultdict(int)
        self.gets: Dict[str, int] = defaultdict(int)
        self.cut: Dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server = S3FrontServer(self, context)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def upstream(self, method: str, path: str, body: bytes,
                 headers: List[Tuple[str, str]]) -> Tuple[int, List[Tuple[str, str]], bytes]:
        """The request sent on to moto on a connection of its own; moto's status, headers
        (without hop-by-hop ones) and body."""
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

    @staticmethod
    def object_get(method: str, path: str) -> bool:
        """A GET of an object (a listing is ``GET /bucket?list-type=2``)."""
        return method == "GET" and "list-type" not in path and path.count("/") >= 2

    def count_get(self, method: str, path: str) -> None:
        if self.object_get(method, path):
            with self.lock:
                self.gets[path.split("?", 1)[0]] += 1

    def cuts(self, method: str, path: str) -> bool:
        """Whether this successful answer is cut mid-body (``cut_per_key``)."""
        key = path.split("?", 1)[0]
        with self.lock:
            if not self.object_get(method, path) or self.cut[key] >= self.cut_per_key:
                return False
            self.cut[key] += 1
            self.cut_answers += 1
            return True

    def throttled(self, method: str, path: str) -> bool:
        """GETs of objects only."""
        if not self.object_get(method, path):
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
