"""A real Apache Livy server for the notebook tests, started from a Livy binary layout that the
machine provides, and the sparkmagic PySpark kernel that talks to it.

Nothing of Livy is in this repository: ``BIGFRUITS_LIVY_HOME`` names a Livy 0.9.0-incubating
(Scala 2.12) home as Apache's binary release lays it out (``jars/``, ``repl_2.12-jars/``,
``rsc-jars/``). Livy 0.8 and 0.9 are not published on Maven Central (``livy-server`` stops at
0.7.1, for Scala 2.11, and ``livy-repl`` was never published) nor on PyPI, the registries CI
reaches, so where no such home is given the tests that need it are skipped, saying so.

``BIGFRUITS_LIVY_PYTHON`` names the Python of the cluster's side: pyspark 3.5 (its folder is
``SPARK_HOME``, as Spark 3.5 on EMR 7), sparkmagic (the kernel) and bigfruits' runtime
dependencies with TensorFlow (the Livy session's ``PYSPARK_PYTHON``), e.g. the venv of
``ci/compat.sh`` plus ``pip install sparkmagic``. bigfruits itself comes from this checkout's
``src`` on the session's ``PYTHONPATH``: the notebooks are tested on the code under test, while
what the bootstrap installs on a node (the wheel) is the node test's business.

Livy's own configuration, the log and Spark's defaults go to a scratch folder; the home given is
only read. The server listens on 127.0.0.1 only, on a free port, and Spark runs in local mode.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from tests.support.paths import REPO

HOME_ENV = "BIGFRUITS_LIVY_HOME"
PYTHON_ENV = "BIGFRUITS_LIVY_PYTHON"
LAYOUT = ("jars", "repl_2.12-jars", "rsc-jars")

NOT_PUBLISHED = ("Livy 0.8/0.9 are not published on Maven Central (livy-server stops at 0.7.1 "
                 "for Scala 2.11; livy-repl was never published) nor on PyPI, the registries CI "
                 "reaches")

#: What ``bin/livy-server`` gives the JVM on Java 17.
JAVA_OPENS = [
    "-XX:+IgnoreUnrecognizedVMOptions",
    *(f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in (
        "java.lang.invoke", "java.lang", "java.nio", "java.util.concurrent.atomic", "sun.nio.ch",
        "java.net", "java.io", "sun.util.calendar")),
    *(f"--add-exports=java.base/{p}=ALL-UNNAMED" for p in (
        "sun.net.dns", "sun.net.util", "sun.security.x509", "sun.security.util")),
]


def skip_reason() -> Optional[str]:
    """Why the real-Livy tests cannot run here, or None when they can."""
    home = os.environ.get(HOME_ENV)
    if not home:
        return (f"no Apache Livy here: set {HOME_ENV} to a Livy 0.9.0-incubating (Scala 2.12) "
                f"home ({', '.join(d + '/' for d in LAYOUT)}); {NOT_PUBLISHED}, so CI has none")
    if not os.environ.get(PYTHON_ENV):
        return (f"{HOME_ENV} is set but {PYTHON_ENV} is not: name a Python with pyspark 3.5, "
                "sparkmagic and bigfruits' runtime dependencies (TensorFlow included)")
    return None


def check_layout(home: Path) -> None:
    missing = [d for d in LAYOUT if not (home / d).is_dir()]
    if missing:
        raise FileNotFoundError(f"{HOME_ENV}={home} is not a Livy home: no {', '.join(missing)}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spark_home(python: str) -> Path:
    """The pyspark folder of ``python`` (it holds bin/spark-submit), checked to be Spark 3.5."""
    out = subprocess.run(
        [python, "-c", "import os, pyspark, sparkmagic; "
                       "print(pyspark.__version__, os.path.dirname(pyspark.__file__))"],
        check=True, capture_output=True, text=True, timeout=120).stdout.split()
    version, folder = out[0], out[1]
    if not version.startswith("3.5."):
        raise RuntimeError(f"{PYTHON_ENV} has pyspark {version}; Livy 0.9 runs Spark 3.5 here")
    return Path(folder)


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
def running_livy(home: Path, python: str, scratch: Path, *, startup_timeout: float = 120,
                 master: str = "local[2]") -> Iterator[Livy]:
    """Livy from ``home`` on 127.0.0.1:<free port>, its sessions on Spark 3.5 local mode with
    ``python``; stopped (with every session's spark-submit, driver and Python) on exit."""
    check_layout(home)
    java_home = os.environ.get("JAVA_HOME")
    java = (os.path.join(java_home, "bin", "java") if java_home else None) or shutil.which("java")
    if java is None or not os.path.exists(java):
        raise RuntimeError("Livy needs a Java 8/11/17 runtime: no java on PATH or JAVA_HOME")
    port = free_port()
    conf_dir, spark_conf, logs = scratch / "livy-conf", scratch / "spark-conf", scratch / "livy-logs"
    for folder in (conf_dir, spark_conf, logs):
        folder.mkdir(parents=True, exist_ok=True)
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
        "spark.sql.shuffle.partitions 4\n")
    env = dict(os.environ)
    env.update({
        "LIVY_HOME": str(home), "LIVY_CONF_DIR": str(conf_dir), "LIVY_LOG_DIR": str(logs),
        "SPARK_HOME": str(spark_home(python)), "SPARK_CONF_DIR": str(spark_conf),
        "SPARK_LOCAL_IP": "127.0.0.1",
        # As the cluster's spark-env classification: the session's Python is the node's.
        "PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python,
        "PYTHONPATH": str(REPO / "src"),  # the code under test, in the driver and the workers
        "TF_CPP_MIN_LOG_LEVEL": "2",
    })
    for name in ("PYSPARK_SUBMIT_ARGS", "SPARK_CONF", "JUPYTER_PATH"):
        env.pop(name, None)
    log = logs / "livy-server.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [java, "-Xmx512m", *JAVA_OPENS, "-cp", f"{home / 'jars'}/*{os.pathsep}{conf_dir}",
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
