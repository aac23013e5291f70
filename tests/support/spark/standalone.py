"""A Spark standalone cluster on 127.0.0.1 (a master and its workers, from a Spark
distribution), so executors are processes of their own with their own working folders, as on a
cluster: the broadcast and the Python workers cross process boundaries, and ``spark.archives``
is unpacked in each executor's working folder (local mode unpacks it elsewhere)."""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from bigfruits.bench.local_servers import free_port

START_TIMEOUT_S = 90


def alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as reply:
            return int(json.load(reply).get("aliveworkers", 0))
    except (OSError, ValueError):  # not up yet: refused, or an empty/partial page while starting
        return 0


@contextmanager
def standalone_cluster(spark_home: Path, logs: Path, workers: int = 2, cores: int = 1, memory: str = "2g",
                       env: Optional[Dict[str, str]] = None) -> Iterator[Tuple[str, int]]:
    """(master URL, master UI port) while the master and ``workers`` workers run; stopped after."""
    env = {**(env or os.environ), "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_NO_DAEMONIZE": "1"}
    spark_class = str(spark_home / "bin" / "spark-class")
    logs.mkdir(parents=True, exist_ok=True)
    port, ui = free_port(), free_port()
    procs: List[subprocess.Popen] = []

    def start(args: List[str], log_name: str) -> None:
        # The child writes to its own descriptor of the log; ours is closed at once.
        with open(logs / log_name, "wb") as log:
            procs.append(subprocess.Popen([spark_class, *args], env=env, stdout=log, stderr=subprocess.STDOUT))

    try:
        start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
               "--port", str(port), "--webui-port", str(ui)], "master.log")
        for i in range(workers):
            start(["org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                   "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory,
                   "--webui-port", str(free_port()), "--work-dir", str(logs / f"work{i}")],
                  f"worker{i}.log")
        deadline = time.monotonic() + START_TIMEOUT_S
        while alive_workers(ui) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("standalone cluster did not start:\n" + (logs / "master.log").read_text()[-2000:])
            time.sleep(1)
        yield f"spark://127.0.0.1:{port}", ui
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
