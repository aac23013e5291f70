"""``bootstrap.sh`` never asks a package index: the nodes install from the wheelhouse only.

pip given ``--find-links`` and an unreachable index installs the same with or without
``--no-index`` (it gives up on the index quietly), so a closed index port proves nothing. Here
the index *is* reachable and records every request it receives: a package index on 127.0.0.1
(PEP 503's simple API) that also serves a package the wheelhouse lacks. The bootstrap runs as
written, with the exact BootstrapAction arguments, its script, wheelhouse and constraints in
the moto server's bucket, and only sudo, dnf and aws shimmed (``tests/support/cluster/node``).

The wheels are tiny stand-ins for ours and a dependency (a real wheelhouse is 181 MB and is
installed by ``tests/e2e/test_node.py``): what is tested is where pip looks, not what it installs.
"""
from __future__ import annotations

import base64
import hashlib
import subprocess
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from bigfruits.aws.procedures.node_files import deterministic_tar
from bigfruits.aws.requests.emr import clusters
from bigfruits.locations import NODE_DIR
from tests.support.aws.server import BUCKET, REGION, boto
from tests.support.cluster.node import make_shims, node_bootstrap_env

pytestmark = pytest.mark.node

DEPENDENCY = "tinydep"


def write_wheel(folder: Path, name: str, requires: List[str], version: str = "1.0") -> Path:
    """A valid pure-Python wheel of ``name`` (metadata, one module, a hashed RECORD)."""
    dist = f"{name}-{version}"
    files: Dict[str, bytes] = {
        f"{name}/__init__.py": f"WHO, VERSION = {name!r}, {version!r}\n".encode(),
        f"{dist}.dist-info/METADATA": "\n".join(
            ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", "Provides-Extra: node",
             *(f"Requires-Dist: {r}" for r in requires), ""]).encode(),
        f"{dist}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{dist}.dist-info/RECORD"] = ("\n".join([*record, f"{dist}.dist-info/RECORD,,"]) + "\n").encode()
    wheel = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


class RecordingIndex:
    """A package index on 127.0.0.1 serving ``DEPENDENCY`` 1.0, recording every request."""

    def __init__(self, wheel: Path) -> None:
        self.requests: List[str] = []
        self.wheel = wheel
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                index.requests.append(self.path)
                data, kind = index.answer(self.path)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str) -> "tuple":
        digest = hashlib.sha256(self.wheel.read_bytes()).hexdigest()
        if path.rstrip("/") == f"/simple/{DEPENDENCY}":
            link = f'<a href="/files/{self.wheel.name}#sha256={digest}">{self.wheel.name}</a>'
            return f"<!DOCTYPE html><html><body>{link}</body></html>".encode(), "text/html"
        if path == f"/files/{self.wheel.name}":
            return self.wheel.read_bytes(), "application/octet-stream"
        return None, "text/html"

    def __enter__(self) -> "RecordingIndex":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def index(tmp_path: Path) -> Iterator[RecordingIndex]:
    served = tmp_path / "served"
    served.mkdir()
    with RecordingIndex(write_wheel(served, DEPENDENCY, [])) as running:
        yield running


def bootstrap(tmp_path: Path, index: RecordingIndex, wheelhouse: List[Path]) -> subprocess.CompletedProcess:
    """bootstrap.sh from the bucket, run with its BootstrapAction arguments on a fresh node whose
    pip is pointed at the recording index (``PIP_INDEX_URL``, as an image's pip.conf could)."""
    s3 = boto("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for wheel in wheelhouse:
        (wheels / wheel.name).write_bytes(wheel.read_bytes())
    deterministic_tar(wheels, tmp_path / "wheelhouse.tar")
    action = clusters.bootstrap_action(BUCKET, f"s3://{BUCKET}/wheelhouse/test.tar")["ScriptBootstrapAction"]
    wheelhouse_uri, extras, constraints_uri = action["Args"]
    (tmp_path / "constraints.txt").write_text(f"{DEPENDENCY}==1.0\n")
    for path, uri in ((NODE_DIR / clusters.BOOTSTRAP_SCRIPT, action["Path"]),
                      (tmp_path / "wheelhouse.tar", wheelhouse_uri),
                      (tmp_path / "constraints.txt", constraints_uri)):
        s3.upload_file(str(path), BUCKET, uri.split("/", 3)[3])
    node = tmp_path / "node"
    env = node_bootstrap_env(node / "python" / "bin" / "python3.11", node / "driver.py",
                             make_shims(tmp_path / "shims", ("sudo", "dnf", "aws")))
    env["PIP_INDEX_URL"] = index.url
    script = tmp_path / "bootstrap.sh"
    subprocess.run(["aws", "s3", "cp", action["Path"], str(script)], env=env, check=True,
                   capture_output=True, timeout=60)
    return subprocess.run(["bash", str(script), wheelhouse_uri, extras, constraints_uri], env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_bootstrap_installs_from_the_wheelhouse_without_asking_the_index(aws_env, tmp_path: Path,
                                                                             index: RecordingIndex) -> None:
    """Protects private subnets (no internet) and reproducible nodes: a complete wheelhouse
    installs, under the constraints (the wheelhouse also holds a newer dependency than they
    allow), and the index, reachable and willing, receives not one request."""
    wheels = tmp_path / "built"
    wheels.mkdir()
    ours = write_wheel(wheels, "bigfruits", [f'{DEPENDENCY}; extra == "node"'])
    done = bootstrap(tmp_path, index, [ours, write_wheel(wheels, DEPENDENCY, []),
                                       write_wheel(wheels, DEPENDENCY, [], version="2.0")])
    assert done.returncode == 0, done.stderr[-2000:]
    assert index.requests == []
    python = tmp_path / "node" / "python" / "bin" / "python3.11"
    imported = subprocess.run([str(python), "-c", f"import bigfruits, {DEPENDENCY}; "
                               f"print(bigfruits.WHO, {DEPENDENCY}.VERSION)"],
                              capture_output=True, text=True, timeout=60)
    assert imported.stdout.split() == ["bigfruits", "1.0"], imported.stderr  # 1.0: the constraints'
    driver = (tmp_path / "node" / "driver.py").read_text()  # what the pipeline step runs
    assert "from bigfruits.cli import main" in driver and "sys.exit(main(sys.argv[1:]))" in driver


def test_a_package_missing_from_the_wheelhouse_fails_the_bootstrap_instead_of_coming_from_the_index(
        aws_env, tmp_path: Path, index: RecordingIndex) -> None:
    """The index has what the wheelhouse lacks: the bootstrap must fail (a node that cannot be
    built as tested must not quietly get something else), and the index sees no request."""
    wheels = tmp_path / "built"
    wheels.mkdir()
    done = bootstrap(tmp_path, index, [write_wheel(wheels, "bigfruits", [f'{DEPENDENCY}; extra == "node"'])])
    assert done.returncode != 0
    # pip: the constraint (tinydep==1.0) cannot be met from the wheelhouse alone
    assert "bigfruits[node]" in done.stderr and "ResolutionImpossible" in done.stderr, done.stderr[-2000:]
    assert index.requests == []
