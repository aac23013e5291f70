"""Local stand-ins for what EMR Studio's Livy (sparkmagic PySpark) kernel provides, so the EMR
Studio notebook runs unchanged in a plain IPython kernel (CI, a laptop).

Load it with ``%load_ext tests.support.livy_shim`` or
``ipykernel_launcher --ext=tests.support.livy_shim`` (the repository on ``PYTHONPATH``). It replaces
exactly these, and nothing else:

- ``%%configure [-f]``: the body must be a JSON object of Livy session fields (``conf`` values
  strings); it is checked and recorded, not applied (no Livy session to size here; applying
  ``spark.pyspark.python`` locally would even pick the wrong interpreter). Without ``-f`` once
  the session has started, it fails, as sparkmagic does.
- ``%%info``: prints the recorded configuration instead of Livy's session list (a bare
  ``%%info`` cell runs as ``%info``: IPython refuses a cell magic without a body).
- ``%matplot plt``: displays the current matplotlib figure inline as a PNG, as sparkmagic does.
- ``spark`` and ``sc``: a local SparkSession, started before the first cell that is not one of
  the magics above (Livy starts its session at that point too).
- ``sc.install_pypi_package(spec)``: checks that ``spec`` is a pip requirement or a URL, records
  it, and installs nothing (the package under test is already installed).
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class

#: The fields Livy's ``POST /sessions`` accepts (Apache Livy REST API).
LIVY_SESSION_FIELDS = {
    "kind", "proxyUser", "jars", "pyFiles", "files", "driverMemory", "driverCores",
    "executorMemory", "executorCores", "numExecutors", "archives", "queue", "name", "conf",
    "heartbeatTimeoutInSecond",
}
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_,.-]+\])?"
                          r"\s*((==|>=|<=|~=|!=|>|<)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*$")
_MAGICS_BEFORE_SESSION = ("%%configure", "%%info")


def check_session_config(body: str) -> Dict[str, Any]:
    """The parsed ``%%configure`` body, or a UsageError saying what is wrong with it."""
    try:
        config = json.loads(body)
    except json.JSONDecodeError as exc:
        raise UsageError(f"%%configure: the body is not JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise UsageError("%%configure: the body must be a JSON object")
    unknown = sorted(set(config) - LIVY_SESSION_FIELDS)
    if unknown:
        raise UsageError(f"%%configure: not Livy session fields: {', '.join(unknown)}")
    conf = config.get("conf", {})
    if not isinstance(conf, dict) or not all(isinstance(v, str) for v in conf.values()):
        raise UsageError('%%configure: "conf" must map Spark keys to string values')
    return config


def check_package_spec(spec: Any) -> str:
    if not isinstance(spec, str) or not (spec.startswith(("https://", "http://", "s3://"))
                                         or _REQUIREMENT.match(spec.strip())):
        raise ValueError(f"install_pypi_package: {spec!r} is not a pip requirement or a URL")
    return spec


@magics_class
class LivyShimMagics(Magics):
    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.session_config: Dict[str, Any] = {}
        self.installed: List[str] = []
        self.session_started = False

    @cell_magic
    def configure(self, line: str, cell: str) -> None:
        if self.session_started and "-f" not in line.split():
            raise UsageError("%%configure: a session is running; use %%configure -f to restart it")
        self.session_config = check_session_config(cell)

    @line_cell_magic
    def info(self, line: str, cell: Optional[str] = None) -> None:
        print("Livy shim (local run): session configuration", json.dumps(self.session_config,
                                                                          sort_keys=True))

    @line_magic
    def matplot(self, line: str) -> None:
        if line.strip() != "plt":
            raise UsageError("%matplot: expected '%matplot plt'")
        import io

        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        figure = plt.gcf()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")  # sparkmagic sends a PNG too
        plt.close(figure)
        display(Image(data=buffer.getvalue(), format="png"))

    def start_session(self, info: Any) -> None:
        """Before the first ordinary cell: the local stand-in for Livy's session."""
        source = (getattr(info, "raw_cell", "") or "").lstrip()
        if self.session_started or source.startswith(_MAGICS_BEFORE_SESSION):
            return
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("bigfruits-livy-shim").getOrCreate()
        sc = spark.sparkContext
        installed = self.installed

        def install_pypi_package(spec: str, repo: Optional[str] = None) -> None:
            installed.append(check_package_spec(spec))
            print(f"Livy shim: would install {spec} for this notebook (nothing installed)")

        sc.install_pypi_package = install_pypi_package  # type: ignore[attr-defined]
        sc.list_packages = lambda: print("\n".join(installed))  # type: ignore[attr-defined]
        self.shell.push({"spark": spark, "sc": sc})
        self.session_started = True


def bare_info_as_line_magic(lines: List[str]) -> List[str]:
    """sparkmagic takes ``%%info`` alone in a cell; IPython refuses a cell magic with an empty
    body, so such a cell is run as the line magic ``%info``."""
    if [line.strip() for line in lines if line.strip()] == ["%%info"]:
        return ["%info\n"]
    return lines


def load_ipython_extension(shell: InteractiveShell) -> None:
    shell.input_transformers_cleanup.append(bare_info_as_line_magic)
    magics = LivyShimMagics(shell)
    shell.register_magics(magics)
    shell.events.register("pre_run_cell", magics.start_session)
