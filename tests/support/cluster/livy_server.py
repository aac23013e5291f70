"""A real Apache Livy server for the notebook tests, the Python its sessions run on, and the
sparkmagic PySpark kernel that talks to it.

Livy: nothing of it is in this repository. Livy 0.8/0.9 are not published on Maven Central
(``livy-server`` stops at 0.7.1, for Scala 2.11; ``livy-repl`` was never published) nor on PyPI,
so a Livy 0.9.0-incubating (Scala 2.12) home laid out as Apache's binary release (``jars/``,
``repl_2.12-jars/``, ``rsc-jars/``) is taken from ``BIGFRUITS_LIVY_HOME``, else from
``../shared/vendor/livy-0.9.0-incubating`` beside the repository (CI's read-only shared folder;
its PROVENANCE.md says how it was built). Without one the tests are skipped, saying why; in CI
(``CI=true``) they fail instead, saying so: CI must run them.

The sessions' Python is a node's: the Python 3.11 that ``bootstrap.sh`` built (see
``tests/support/cluster/node.py``), as the cluster's ``spark-env`` makes it ``PYSPARK_PYTHON``; pyspark
comes from Spark 3.5 itself (``SPARK_HOME`` is the node tests' Spark 3.5), as on EMR. The
kernel's Python is sparkmagic's own venv (as JupyterHub's container, not a node), kept in
``~/.cache/bigfruits-tests`` between runs.

Livy's own configuration, the log and Spark's defaults go to a scratch folder; the home given is
only read. The server listens on 127.0.0.1 only, on a free port, and Spark runs in local mode.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from bigfruits.bench.local_servers import free_port
from tests.support.cluster.node import base_python311, clean_env, java_home
from tests.support.paths import REPO

HOME_ENV = "BIGFRUITS_LIVY_HOME"
LAYOUT = ("jars", "repl_2.12-jars", "rsc-jars")
#: Where CI's read-only shared folder holds Livy, beside the clone.
SHARED_HOME = REPO.parent / "shared" / "vendor" / "livy-0.9.0-incubating"

NOT_PUBLISHED = ("Livy 0.8/0.9 are not published on Maven Central (livy-server stops at 0.7.1 "
                 "for Scala 2.11; livy-repl was never published) nor on PyPI")

#: The notebook kernel: sparkmagic's PySpark kernel in its own venv, cached between runs.
#: sparkmagic requires requests-kerberos, which requires pyspnego[kerberos]: gssapi and krb5,
#: compiled against the system's Kerberos headers (``krb5-config``). The kernel talks to Livy
#: without authentication, so requests-kerberos and sparkmagic are installed without their
#: dependencies and those are named here, pyspnego without its Kerberos extra.
SPARKMAGIC_SPEC = "sparkmagic==0.23.*"
SPARKMAGIC_NO_DEPS = (SPARKMAGIC_SPEC, "requests-kerberos>=0.13")
SPARKMAGIC_DEPS = ("hdijupyterutils>=0.6", "autovizwidget>=0.6", "ipython", "ipykernel",
                   "ipywidgets", "notebook", "tornado", "nest-asyncio", "pandas<3", "numpy",
                   "requests", "pyspnego", "cryptography")
SPARKMAGIC_VENV = Path(os.environ.get("BIGFRUITS_SPARKMAGIC_VENV",
                                      Path.home() / ".cache" / "bigfruits-tests" / "sparkmagic"))

#: What ``bin/livy-server`` gives the JVM on Java 17.
JAVA_OPENS = [
    "-XX:+IgnoreUnrecognizedVMOptions",
    *(f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in (
        "java.lang.invoke", "java.lang", "java.nio", "java.util.concurrent.atomic", "sun.nio.ch",
        "java.net", "java.io", "sun.util.calendar")),
    *(f"--add-exports=java.base/{p}=ALL-UNNAMED" for p in (
        "sun.net.dns", "sun.net.util", "sun.security.x509", "sun.security.util")),
]


def _missing(home: Path) -> List[str]:
    return [d + "/" for d in LAYOUT if not (home / d).is_dir()]


def find_home() -> Tuple[Optional[Path], str]:
    """The Livy home to use, or None and why there is none."""
    named = os.environ.get(HOME_ENV)
    if named:
        missing = _missing(Path(named))
        if missing:
            return None, f"{HOME_ENV}={named} is not a Livy home: no {', '.join(missing)}"
        return Path(named), ""
    if SHARED_HOME.is_dir() and not _missing(SHARED_HOME):
        return SHARED_HOME, ""
    return None, (f"no Apache Livy here: set {HOME_ENV} to a Livy 0.9.0-incubating (Scala 2.12) "
                  f"home ({', '.join(d + '/' for d in LAYOUT)}) or put one at {SHARED_HOME}; "
                  f"{NOT_PUBLISHED}")


def skip_reason() -> Optional[str]:
    """Why the real-Livy tests cannot run here, or None when they can."""
    home, why = find_home()
    return None if home is not None else why


def home_or_skip() -> Path:
    """The Livy home; else the test is skipped with the reason, or, in CI, fails saying so."""
    from tests.support.ci import skip_or_fail

    home, why = find_home()
    if home is None:
        skip_or_fail(f"the real-Livy notebook tests cannot run: {why}")
    return home


def sparkmagic_python(timeout_s: float = 900) -> Path:
    """The kernel's Python: ``sparkmagic`` in a fresh Python 3.11 venv kept in ``~/.cache``
    between runs (as JupyterHub's container has it, apart from any node); made once, marked
    complete only when the install finished. sparkmagic pulls in Jupyter and ``pandas<3``: in
    the test venv it would change what the rest of the suite runs on."""
    marker = SPARKMAGIC_VENV / ".complete"
    wanted = " ".join((*SPARKMAGIC_NO_DEPS, *SPARKMAGIC_DEPS)) + "\n"
    if not (marker.is_file() and marker.read_text() == wanted):
        shutil.rmtree(SPARKMAGIC_VENV, ignore_errors=True)
        subprocess.run([base_python311(), "-m", "venv", str(SPARKMAGIC_VENV)], check=True,
                       timeout=120)
        pip = [str(SPARKMAGIC_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check"]
        for args in (["--no-deps", *SPARKMAGIC_NO_DEPS], list(SPARKMAGIC_DEPS)):
            subprocess.run([*pip, *args], check=True, timeout=timeout_s, env=clean_env())
        marker.write_text(wanted)
    return SPARKMAGIC_VENV / "bin" / "python"


def _get(url: str, timeout: float = 5) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # 127.0.0.1 only
        return json.loads(answer.read())


@dataclass
class Livy:
    url: str
    log: Path
    process: subprocess.Popen

    def sessions(self) -> List[Dict[str, object]]:
        return list(_get(f"{self.url}/sessions")["sessions"])  # type: ignore[index]

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def running_livy(home: Path, python: Path, spark_home: Path, scratch: Path, *,
                 startup_timeout: float = 120, master: str = "local[2]") -> Iterator[Livy]:
    """Livy from ``home`` on 127.0.0.1:<free port>, its sessions on ``spark_home`` (Spark 3.5)
    in local mode with ``python`` as PYSPARK_PYTHON; stopped (with every session's
    spark-submit, driver and Python) on exit."""
    missing = _missing(home)
    if missing:
        raise FileNotFoundError(f"{home} is not a Livy home: no {', '.join(missing)}")
    java = Path(java_home()) / "bin" / "java"
    port = free_port()
    conf_dir, spark_conf, logs = scratch / "livy-conf", scratch / "spark-conf", scratch / "livy-logs"
    tmp = scratch / "tmp"  # Livy's livyConf*.properties and the REPL's spark*/ classes, not /tmp
    for folder in (conf_dir, spark_conf, logs, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    write_conf(conf_dir, spark_conf, port, master, tmp)
    env = livy_env(home, conf_dir, logs, spark_home, spark_conf, python)
    log = logs / "livy-server.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(java), "-Xmx512m", f"-Djava.io.tmpdir={tmp}", *JAVA_OPENS, "-cp", f"{home / 'jars'}/*{os.pathsep}{conf_dir}",
             "org.apache.livy.server.LivyServer"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)  # its own process group: stopped with its children
    livy = Livy(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Livy exited with {process.returncode}:\n{livy.log_tail()}")
            try:
                livy.sessions()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Livy did not answer in {startup_timeout:.0f} s:\n"
                                       f"{livy.log_tail()}") from None
                time.sleep(0.5)
        yield livy
    finally:
        stop(process)


def write_conf(conf_dir: Path, spark_conf: Path, port: int, master: str, tmp: Path) -> None:
    """Livy's livy.conf and log4j.properties in ``conf_dir``; the spark-defaults.conf of the
    spark-submits it runs in ``spark_conf``."""
    (conf_dir / "livy.conf").write_text("\n".join([
        "livy.server.host = 127.0.0.1",
        f"livy.server.port = {port}",
        f"livy.spark.master = {master}",
        "livy.spark.deploy-mode = client",
        "livy.repl.enable-hive-context = false",
        "livy.server.session.timeout = 30m",
        "livy.rsc.rpc.server.address = 127.0.0.1",  # else Livy <-> driver RPC uses eth0's address
        "livy.rsc.launcher.address = 127.0.0.1",
    ]) + "\n")
    (conf_dir / "log4j.properties").write_text(
        "log4j.rootCategory=INFO, console\n"
        "log4j.appender.console=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.console.target=System.err\n"
        "log4j.appender.console.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.console.layout.ConversionPattern=%d{HH:mm:ss} %p %c{1}: %m%n\n"
        "log4j.logger.org.eclipse.jetty=WARN\n")
    # Read by every spark-submit Livy runs: no UI port, the driver on loopback, small shuffles.
    (spark_conf / "spark-defaults.conf").write_text(
        "spark.ui.enabled false\n"
        "spark.driver.host 127.0.0.1\n"
        "spark.driver.bindAddress 127.0.0.1\n"
        "spark.sql.shuffle.partitions 4\n"
        f"spark.driver.extraJavaOptions -Djava.io.tmpdir={tmp}\n")


def livy_env(home: Path, conf_dir: Path, logs: Path, spark_home: Path, spark_conf: Path,
             python: Path) -> Dict[str, str]:
    """Livy's environment: its folders, Java, Spark 3.5, and the node's Python for the sessions."""
    # This machine's environment without the test venv's Python (PYTHONPATH, VIRTUAL_ENV, ...):
    # the sessions see a node's Python and Spark's own pyspark, as on the cluster.
    env = clean_env({
        "LIVY_HOME": str(home), "LIVY_CONF_DIR": str(conf_dir), "LIVY_LOG_DIR": str(logs),
        "JAVA_HOME": java_home(),
        "SPARK_HOME": str(spark_home), "SPARK_CONF_DIR": str(spark_conf),
        "SPARK_LOCAL_IP": "127.0.0.1",
        # As the cluster's spark-env classification: the session's Python is the node's.
        "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    })
    for name in ("PYSPARK_SUBMIT_ARGS", "SPARK_CONF", "JUPYTER_PATH"):
        env.pop(name, None)
    return env


def stop(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM to Livy's process group (the server, the spark-submits it started, their
    drivers and Pythons), SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the server is gone; its children may linger a moment
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def sparkmagic_config(folder: Path, livy_url: str) -> Path:
    """sparkmagic's config.json (read from ``$SPARKMAGIC_CONF_DIR``): our Livy, and every error
    fatal, so that a cell that fails on the cluster fails papermill (sparkmagic's default,
    ``all_errors_are_fatal: false``, only prints it and goes on)."""
    folder.mkdir(parents=True, exist_ok=True)
    credentials = {"username": "", "password": "", "url": livy_url, "auth": "None"}
    config = {
        "kernel_python_credentials": credentials,
        "kernel_scala_credentials": credentials,
        "logging_config": {
            "version": 1,
            "formatters": {"magicsFormatter": {"format": "%(asctime)s\t%(levelname)s\t%(message)s",
                                               "datefmt": ""}},
            "handlers": {"magicsHandler": {"class": "hdijupyterutils.filehandler.MagicsFileHandler",
                                           "formatter": "magicsFormatter",
                                           "home_path": str(folder)}},
            "loggers": {"magicsLogger": {"handlers": ["magicsHandler"], "level": "DEBUG",
                                         "propagate": 0}},
        },
        "all_errors_are_fatal": True,
        "shutdown_session_on_spark_statement_errors": False,
        "cleanup_all_sessions_on_exit": True,  # the kernel deletes its Livy session on exit
        "livy_session_startup_timeout_seconds": 240,
        "session_configs": {"driverMemory": "1g"},
        "use_auto_viz": False,
        "heartbeat_refresh_seconds": 30,
        "heartbeat_retry_seconds": 10,
    }
    path = folder / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def pyspark_kernelspec(jupyter_dir: Path, python: str, sparkmagic_conf_dir: Path) -> str:
    """sparkmagic's ``pysparkkernel`` kernelspec (its own kernel.json, with ``python`` as argv[0]
    and our sparkmagic configuration) in ``jupyter_dir``; put that on ``JUPYTER_PATH``. The name
    is the one in the notebooks, so papermill runs them with no kernel override."""
    folder = jupyter_dir / "kernels" / "pysparkkernel"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "sparkmagic.kernels.pysparkkernel.pysparkkernel",
                 "-f", "{connection_file}"],
        "display_name": "PySpark", "language": "python",
        "env": {"SPARKMAGIC_CONF_DIR": str(sparkmagic_conf_dir)},
    }))
    return "pysparkkernel"
