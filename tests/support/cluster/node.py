"""An EMR node on this machine, for running what the cluster runs as the cluster runs it.

Only what cannot exist here is replaced, by small shims on ``PATH`` in a scratch folder:
``sudo`` runs its command; ``dnf install python3.11`` creates a fresh Python 3.11 (a venv without
pip at the node's Python path; ``python3.11-pip`` adds pip through ensurepip); ``aws s3 cp/rm``
talk to the moto server through boto3 (awscli is not installed here); ``docker`` records what a
command receives on stdin. Spark 3.5 (EMR 7's) is a ``pyspark==3.5.*`` distribution in a venv
cached under ``~/.cache`` across runs; its spark-defaults.conf carries the S3A settings that
EMR's own spark-defaults give EMRFS, and its spark-env.sh the cluster's ``spark-env``
classification.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from bigfruits.aws.requests.emr import clusters
from bigfruits.bench.local_servers import free_port
from bigfruits.locations import NODE_DIR

#: Spark of EMR 7 (7.x ships Spark 3.5.x).
SPARK_SPEC = "pyspark==3.5.*"
SPARK_VENV = Path(os.environ.get("BIGFRUITS_SPARK35_VENV",
                                 Path.home() / ".cache" / "bigfruits-tests" / "spark-3.5"))
#: The node paths that bootstrap.sh lets the environment move (the defaults are the node's).
NODE_PYTHON_VAR, DRIVER_VAR = "BIGFRUITS_NODE_PYTHON", "BIGFRUITS_DRIVER"
#: What a test's environment leaks into a child and a node does not have.
LEAKY_VARS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE",
              "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "SPARK_HOME", "SPARK_CONF_DIR",
              "PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET")


def base_python311() -> str:
    """The real interpreter behind ``python3.11`` (pyenv's shim resolved)."""
    found = shutil.which("python3.11")
    if not found:
        raise RuntimeError("python3.11 is not on PATH (the node's Python is 3.11)")
    return subprocess.run([found, "-c", "import sys; print(sys.executable)"], check=True,
                          capture_output=True, text=True).stdout.strip()


def spark35_home(timeout_s: float = 900) -> Path:
    """SPARK_HOME of Spark 3.5: ``pyspark==3.5.*`` in a venv kept in ``~/.cache`` between runs
    (never in the repository); made once, marked complete only when the install finished."""
    marker = SPARK_VENV / ".complete"
    if not marker.is_file():
        shutil.rmtree(SPARK_VENV, ignore_errors=True)
        subprocess.run([base_python311(), "-m", "venv", str(SPARK_VENV)], check=True, timeout=120)
        subprocess.run([str(SPARK_VENV / "bin" / "python"), "-m", "pip", "install", "-q", SPARK_SPEC],
                       check=True, timeout=timeout_s)
        marker.write_text(SPARK_SPEC + "\n")
    found = list((SPARK_VENV / "lib").glob("python3*/site-packages/pyspark/bin/spark-submit"))
    if len(found) != 1:
        raise RuntimeError(f"no pyspark/bin/spark-submit in {SPARK_VENV}")
    return found[0].parent.parent


def hadoop_version(spark_home: Path) -> str:
    """Hadoop of this Spark (``jars/hadoop-client-api-3.3.4.jar`` -> 3.3.4): hadoop-aws must match."""
    [jar] = spark_home.glob("jars/hadoop-client-api-*.jar")
    return jar.stem.rsplit("-", 1)[1]


def java_home() -> str:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if not java:
        raise RuntimeError("Java 17 is required")
    return str(Path(os.path.realpath(java)).parents[1])


def truststore(folder: Path, cert: Path) -> Path:
    """The JDK's cacerts plus the moto certificate: the driver JVM trusts moto's HTTPS, and
    still Maven Central's (Ivy fetches ``spark.jars.packages`` in the same JVM)."""
    store = folder / "truststore.jks"
    if not store.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        cacerts = Path(java_home()) / "lib" / "security" / "cacerts"
        subprocess.run(["keytool", "-importkeystore", "-srckeystore", str(cacerts), "-srcstorepass", "changeit",
                        "-destkeystore", str(store), "-deststorepass", "changeit", "-deststoretype", "JKS",
                        "-noprompt"], check=True, capture_output=True, timeout=120)
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "moto", "-file", str(cert),
                        "-keystore", str(store), "-storepass", "changeit"],
                       check=True, capture_output=True, timeout=60)
    return store


def s3a_defaults(spark_home: Path, endpoint: str, store: Path, master: str = "local[2]") -> Dict[str, str]:
    """What EMR's spark-defaults give EMRFS, for S3A to moto: ``s3://`` and ``s3a://`` both
    through Hadoop's S3A (hadoop-aws from Maven Central, the Hadoop version of this Spark)."""
    return {
        "spark.master": master,
        "spark.ui.enabled": "false",
        "spark.jars.packages": f"org.apache.hadoop:hadoop-aws:{hadoop_version(spark_home)}",
        "spark.driver.extraJavaOptions":
            f"-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStorePassword=changeit",
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint": endpoint,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.access.key": "testing",
        "spark.hadoop.fs.s3a.secret.key": "testing",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "spark.hadoop.fs.s3a.change.detection.version.required": "false",
    }


def write_spark_conf(folder: Path, defaults: Mapping[str, str], exports: Mapping[str, str]) -> Path:
    """SPARK_CONF_DIR: spark-defaults.conf, and spark-env.sh from a ``spark-env`` classification's
    ``export`` properties (as EMR writes them)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spark-defaults.conf").write_text("".join(f"{k} {v}\n" for k, v in defaults.items()))
    (folder / "spark-env.sh").write_text("".join(f"export {k}={v}\n" for k, v in exports.items()))
    return folder


def spark_env_exports(configurations: Sequence[Mapping], path_map: Mapping[str, str]) -> Dict[str, str]:
    """The ``export`` properties of a RunJobFlow's ``spark-env`` classification, node paths mapped."""
    exports: Dict[str, str] = {}
    for conf in configurations:
        if conf.get("Classification") != "spark-env":
            continue
        for inner in conf.get("Configurations", []):
            if inner.get("Classification") == "export":
                exports.update({k: path_map.get(v, v) for k, v in inner["Properties"].items()})
    return exports


def clean_env(extra: Optional[Mapping[str, str]] = None, path_first: Sequence[Path] = ()) -> Dict[str, str]:
    """This environment without what would leak the test's Python into the child."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARS}
    env["PATH"] = os.pathsep.join([*(str(p) for p in path_first), env.get("PATH", "")])
    env.update(extra or {})
    return env


SUDO = """#!/bin/bash
# sudo: the test runs as one user; run the command as it is.
exec "$@"
"""

DNF = """#!/bin/bash
# dnf: only `dnf install ... python3.11 [python3.11-pip] ...`, making a FRESH Python 3.11 at the
# node's Python path (a venv without pip: no package of this machine comes along).
set -euo pipefail
[ "$1" = install ] || { echo "dnf shim: only install is modelled: $*" >&2; exit 1; }
shift
echo "$*" >> "$(dirname "$0")/dnf.log"
pkgs=()
for a in "$@"; do case "$a" in -*) ;; *) pkgs+=("$a");; esac; done
py="${BIGFRUITS_NODE_PYTHON:?}"
root="$(dirname "$(dirname "$py")")"
for p in "${pkgs[@]}"; do
  case "$p" in
    python3.11)
      [ -x "$py" ] || "@BASE_PYTHON@" -m venv --without-pip "$root";;
    python3.11-pip)
      [ -x "$py" ] || { echo "dnf shim: python3.11-pip needs python3.11 first" >&2; exit 1; }
      "$py" -m ensurepip --default-pip >/dev/null
      # as the rpm leaves it: owned by rpm, no RECORD, so pip cannot uninstall (upgrade) itself
      for info in "$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"/pip-*.dist-info; do
        echo rpm > "$info/INSTALLER"; rm -f "$info/RECORD"
      done;;
    *) echo "dnf shim: no package $p here" >&2; exit 1;;
  esac
done
"""

AWS = '''#!@PYTHON@
"""aws: `aws s3 cp SRC DST` and `aws s3 rm URI` ([--quiet]) through boto3 to the moto server
(AWS_ENDPOINT_URL, AWS_CA_BUNDLE); awscli is not installed here."""
import os, sys
import boto3
from botocore.exceptions import ClientError

args = [a for a in sys.argv[1:] if a != "--quiet"]
quiet = "--quiet" in sys.argv
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "aws.log"), "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")


def split(uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


s3 = boto3.client("s3")
try:
    if args[:2] == ["s3", "cp"] and len(args) == 4:
        src, dst = args[2], args[3]
        if src.startswith("s3://") and dst == "-":
            bucket, key = split(src)
            sys.stdout.buffer.write(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        elif src.startswith("s3://"):
            bucket, key = split(src)
            if dst.endswith("/") or os.path.isdir(dst):
                dst = os.path.join(dst, os.path.basename(key))
            s3.download_file(bucket, key, dst)
            if not quiet:
                print(f"download: {src} to {dst}")
        elif dst.startswith("s3://"):
            bucket, key = split(dst)
            s3.upload_file(src, bucket, key)
        else:
            sys.exit("aws shim: local to local copy is not modelled")
    elif args[:2] == ["s3", "rm"] and len(args) == 3:
        bucket, key = split(args[2])
        s3.delete_object(Bucket=bucket, Key=key)
        if not quiet:
            print(f"delete: {args[2]}")
    else:
        sys.exit(f"aws shim: not modelled: {' '.join(sys.argv[1:])}")
except ClientError as exc:
    print(f"fatal error: {exc}", file=sys.stderr)
    sys.exit(1)
'''

DOCKER = """#!/bin/bash
# docker: records its arguments and what it receives on stdin; fails if DOCKER_SHIM_FAIL is set.
here="$(dirname "$0")"
echo "$*" >> "$here/docker.args"
cat > "$here/docker.stdin"
[ -z "${DOCKER_SHIM_FAIL:-}" ] || { echo "chpasswd: (simulated) failure" >&2; exit 1; }
"""


@dataclass
class Shims:
    """The shim folder (put it first on PATH) and what the shims recorded."""

    bin: Path

    def read(self, name: str) -> str:
        path = self.bin / name
        return path.read_text() if path.is_file() else ""


def make_shims(folder: Path, names: Sequence[str] = ("sudo", "dnf", "aws", "docker")) -> Shims:
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"sudo": SUDO, "dnf": DNF, "aws": AWS, "docker": DOCKER}
    for name in names:
        text = texts[name].replace("@PYTHON@", sys.executable)
        if name == "dnf":
            text = text.replace("@BASE_PYTHON@", base_python311())
        path = folder / name
        path.write_text(text)
        path.chmod(0o755)
    return Shims(folder)


def command_runner(args: List[str], spark_home: Path, folder: Path) -> List[str]:
    """``command-runner.jar``: runs its arguments as a command on the master's PATH, where
    ``spark-submit`` is Spark's (here: a wrapper calling Spark 3.5's)."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "spark-submit"
    wrapper.write_text(f'#!/bin/bash\nexec "{spark_home}/bin/spark-submit" "$@"\n')
    wrapper.chmod(0o755)
    return list(args)


#: What would let pip reach a package index (or tell it not to try) from this machine's
#: environment: the node has none of it.
PIP_NETWORK_VARS = ("PIP_NO_INDEX", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
                    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def node_bootstrap_env(node_python: Path, driver: Path, shims: Shims) -> Dict[str, str]:
    """The bootstrap's environment: the node's paths, and no package index reachable (pip's
    index is a closed local port, no proxy, no ``PIP_NO_INDEX`` to hide a script asking one)."""
    env = clean_env({NODE_PYTHON_VAR: str(node_python), DRIVER_VAR: str(driver),
                     "PIP_DISABLE_PIP_VERSION_CHECK": "1"}, [shims.bin])
    for name in PIP_NETWORK_VARS:
        env.pop(name, None)
    env["PIP_INDEX_URL"] = f"http://127.0.0.1:{free_port()}/simple"  # nothing listens there
    env["PIP_RETRIES"], env["PIP_TIMEOUT"] = "0", "5"
    return env


def installed_mb(python: Path) -> float:
    """MB on disk of the node Python's site-packages: all it installs besides EMR's Spark."""
    done = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          env=clean_env(), check=True, capture_output=True, text=True, timeout=60)
    total = sum(f.stat().st_size for f in Path(done.stdout.strip()).rglob("*") if f.is_file() and not f.is_symlink())
    return total / 1e6


#: The node ``tests/e2e/test_node.py`` bootstrapped through create-cluster (and checked) in
#: this pytest session: later tests that need a node's Python take it rather than build another.
_SESSION_NODES: List[Path] = []
#: Nodes built by ``node_python`` alone (no test_node.py before it), by what makes them.
NODE_CACHE = Path(os.environ.get("BIGFRUITS_NODE_CACHE",
                                 Path.home() / ".cache" / "bigfruits-tests" / "node"))
UNUSED_NODE_S = 24 * 3600


def remember_node(python: Path) -> None:
    """Offer a node that was bootstrapped and checked to the rest of this test session."""
    _SESSION_NODES.append(python)


def node_key(wheel: Path) -> str:
    """What the bootstrap makes a node from: bootstrap.sh, the constraints, the extras, the
    base Python and the wheel's files (not its zip timestamps)."""
    digest = hashlib.sha256()
    for name in (clusters.BOOTSTRAP_SCRIPT, clusters.CONSTRAINTS_FILE):
        digest.update((NODE_DIR / name).read_bytes())
    digest.update(clusters.WHEEL_EXTRAS.encode())
    digest.update(base_python311().encode() + sys.version.encode())
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name))
    return digest.hexdigest()[:16]


def node_python(make_wheel: Callable[[], Path], make_aws_env: Callable[[], Mapping[str, str]],
                scratch: Path, timeout_s: float = 30 * 60) -> Path:
    """A node's Python 3.11 as ``bootstrap.sh`` builds it: the one test_node.py built in this
    session if any, else one built here the same way (the script, the wheel and the
    constraints from S3 on moto, the exact BootstrapAction arguments, sudo/dnf/aws shimmed),
    kept in ``NODE_CACHE`` under ``node_key`` for the next run; other keys are removed once
    unused for a day (another checkout on this machine may be using one). The wheel and the
    moto environment are asked for only when needed."""
    if _SESSION_NODES:
        return _SESSION_NODES[-1]
    wheel = make_wheel()
    key = node_key(wheel)
    root = NODE_CACHE / key
    python = root / "python" / "bin" / "python3.11"
    if (root / ".complete").is_file() and python.exists():
        (root / ".complete").touch()  # used: kept
        return python
    if NODE_CACHE.is_dir():
        for other in NODE_CACHE.iterdir():
            used = other / ".complete" if (other / ".complete").is_file() else other
            if other != root and time.time() - used.stat().st_mtime > UNUSED_NODE_S:
                shutil.rmtree(other, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)  # an unfinished build
    root.mkdir(parents=True)
    aws_env = make_aws_env()
    import boto3

    bucket = "bigfruits-node-test"
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"],
                      verify=aws_env["AWS_CA_BUNDLE"], region_name=aws_env["AWS_REGION"],
                      aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"])
    s3.create_bucket(Bucket=bucket,
                     CreateBucketConfiguration={"LocationConstraint": aws_env["AWS_REGION"]})
    from bigfruits.aws.procedures.node_files import build_wheelhouse

    action = clusters.bootstrap_action(bucket)["ScriptBootstrapAction"]
    wheelhouse_uri, _, constraints_uri = action["Args"]
    for path, uri in ((NODE_DIR / clusters.BOOTSTRAP_SCRIPT, action["Path"]),
                      (build_wheelhouse(wheel), wheelhouse_uri),
                      (NODE_DIR / clusters.CONSTRAINTS_FILE, constraints_uri)):
        s3.upload_file(str(path), bucket, uri.split("/", 3)[3])
    shims = make_shims(scratch / "shims", ("sudo", "dnf", "aws"))
    env = node_bootstrap_env(python, root / "driver.py", shims)
    env.update(aws_env)
    script = scratch / "bootstrap.sh"
    subprocess.run(["aws", "s3", "cp", action["Path"], str(script)], env=env, check=True,
                   capture_output=True, timeout=60)
    done = subprocess.run(["bash", str(script), *action["Args"]], env=env, cwd=scratch,
                          capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        kept = [line for line in done.stderr.splitlines() if not re.match(r"^\s*$", line)]
        raise RuntimeError(f"bootstrap.sh failed ({done.returncode}):\n" + "\n".join(kept[-40:]))
    (root / ".complete").write_text(key + "\n")
    return python


def node_python_asked_of(request: Any, scratch: Path) -> Path:
    """``node_python`` for a test: the wheel and moto are asked of pytest (the fixtures
    ``built_wheel``, ``moto_url`` and ``moto_tls``, which the test module imports) only when
    the node must be built (test_node.py's node, or the cached one, needs neither)."""
    from tests.support.aws.server import REGION

    def aws() -> Dict[str, str]:
        url, (cert, _key) = request.getfixturevalue("moto_url"), request.getfixturevalue("moto_tls")
        return {"AWS_ENDPOINT_URL": url, "AWS_CA_BUNDLE": str(cert), "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing"}

    started = time.monotonic()
    python = node_python(lambda: request.getfixturevalue("built_wheel"), aws, scratch)
    print(f"\nnode Python {python} ready in {time.monotonic() - started:.1f} s")
    return python
