"""A local stand-in for sparkmagic's PySpark kernel and the Livy session behind it, so both
notebooks run unchanged in a plain IPython kernel where no Livy server exists (CI: Apache Livy
0.8/0.9 are not published on Maven Central or PyPI, the registries CI reaches).

Load it with ``%load_ext tests.support.livy_shim`` or
``ipykernel_launcher --ext=tests.support.livy_shim`` (the repository on ``PYTHONPATH``). It
emulates exactly the sparkmagic magics the notebooks use, and nothing else:

- ``%%configure [-f]``: the body must be a JSON object of Livy session fields (``conf`` values
  strings); it is checked and recorded, not applied (no Livy session to size here; applying
  ``spark.pyspark.python`` locally would even pick the wrong interpreter). Without ``-f`` once
  the session has started, it fails, as sparkmagic does.
- ``%%info``: prints the recorded configuration instead of Livy's session list (a bare
  ``%%info`` cell runs as ``%info``: IPython refuses a cell magic without a body).
- ``%matplot plt``: displays the current matplotlib figure as a PNG, as Livy's ``%matplot``
  does through sparkmagic.
- the Livy session itself: ``spark`` and ``sc`` of a local SparkSession, started before the first
  cell that is not one of the magics above (Livy starts its session at that point too). Plain
  cells then run in this kernel, where sparkmagic would send them to that session.

Any other line starting with ``%`` is *not* sparkmagic: the shim refuses it, so a notebook cannot
come to rely on an IPython-only magic (``%pip``, ``%matplotlib``) that the PySpark kernel lacks.
"""
from __future__ import annotations

import json
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
_MAGICS_BEFORE_SESSION = ("%%configure", "%%info")
#: The sparkmagic magics the notebooks use (``%info`` is how a bare ``%%info`` cell runs here).
SPARKMAGIC_MAGICS = ("%%configure", "%%info", "%info", "%matplot")


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


@magics_class
class LivyShimMagics(Magics):
    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.session_config: Dict[str, Any] = {}
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

        buffer = io.BytesIO()
        plt.gcf().savefig(buffer, format="png")  # as Livy's %matplot: the current figure, a PNG
        display(Image(data=buffer.getvalue(), format="png"))

    def start_session(self, info: Any) -> None:
        """Before the first ordinary cell: the local stand-in for Livy's session."""
        source = (getattr(info, "raw_cell", "") or "").lstrip()
        if self.session_started or source.startswith(_MAGICS_BEFORE_SESSION):
            return
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("bigfruits-livy-shim").getOrCreate()
        self.shell.push({"spark": spark, "sc": spark.sparkContext})
        self.session_started = True


def bare_info_as_line_magic(lines: List[str]) -> List[str]:
    """sparkmagic takes ``%%info`` alone in a cell; IPython refuses a cell magic with an empty
    body, so such a cell is run as the line magic ``%info``."""
    if [line.strip() for line in lines if line.strip()] == ["%%info"]:
        return ["%info\n"]
    return lines


def only_sparkmagic_magics(lines: List[str]) -> List[str]:
    """Refuse a magic that sparkmagic's PySpark kernel does not have (or that this shim does not
    emulate): in the real kernel, ``%pip`` or ``%matplotlib`` would not do what they do here."""
    for line in lines:
        words = line.split()
        if words and words[0].startswith("%") and words[0] not in SPARKMAGIC_MAGICS:
            raise UsageError(f"{words[0]}: not one of the sparkmagic magics this shim emulates "
                             f"({', '.join(SPARKMAGIC_MAGICS)})")
    return lines


def load_ipython_extension(shell: InteractiveShell) -> None:
    shell.input_transformers_cleanup.append(bare_info_as_line_magic)
    shell.input_transformers_cleanup.append(only_sparkmagic_magics)
    magics = LivyShimMagics(shell)
    shell.register_magics(magics)
    shell.events.register("pre_run_cell", magics.start_session)
