"""Generate the two notebooks from one source, or check that they are up to date.

    python notebooks/build.py          # write notebooks/*.ipynb
    python notebooks/build.py --check  # exit 1 if a notebook differs from its sources

Each notebook = its set-up cells (``src/setup-<flavor>.md``) + the shared pipeline cells
(``src/pipeline.md``), all in jupytext's Markdown format. So the pipeline cells are the same in
both; the EMR Studio notebook only adds a ``%matplot plt`` cell after each figure cell, because
a Livy (sparkmagic) kernel sends a figure back to the browser only through that magic.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"

#: flavor -> (notebook file, kernelspec as on the cluster)
FLAVORS: Dict[str, Dict[str, object]] = {
    "jupyterhub": {
        "notebook": "bigfruits-jupyterhub.ipynb",
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "show_magic": None,
    },
    "emr-studio": {
        "notebook": "bigfruits-emr-studio.ipynb",
        "kernelspec": {"name": "pysparkkernel", "display_name": "PySpark", "language": "python"},
        "show_magic": "%matplot plt",
    },
}


def _cells(source: Path) -> List[nbformat.NotebookNode]:
    return list(jupytext.read(source, fmt="md").cells)


def build(flavor: str) -> nbformat.NotebookNode:
    """The notebook for ``flavor``, without outputs, with stable metadata."""
    spec = FLAVORS[flavor]
    cells = _cells(SOURCES / f"setup-{flavor}.md")
    for cell in _cells(SOURCES / "pipeline.md"):
        cells.append(cell)
        if spec["show_magic"] and "figure" in cell.metadata.get("tags", []):
            cells.append(nbformat.v4.new_code_cell(spec["show_magic"]))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": dict(spec["kernelspec"]),  # type: ignore[arg-type]
        "language_info": {"name": "python"},
        "bigfruits": {"flavor": flavor, "generated_from": "notebooks/src (python notebooks/build.py)"},
    }
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{flavor}-{index:02d}"  # stable ids: regenerating changes nothing
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def render(flavor: str) -> str:
    return nbformat.writes(build(flavor)) + "\n"


def stale_notebooks() -> List[str]:
    """Notebook files that differ from what their sources generate."""
    stale = []
    for flavor, spec in FLAVORS.items():
        path = HERE / str(spec["notebook"])
        if not path.exists() or path.read_text(encoding="utf-8") != render(flavor):
            stale.append(path.name)
    return stale


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_notebooks()
        for name in stale:
            print(f"{name} is out of date: run python notebooks/build.py", file=sys.stderr)
        return 1 if stale else 0
    for flavor, spec in FLAVORS.items():
        (HERE / str(spec["notebook"])).write_text(render(flavor), encoding="utf-8")
        print(f"wrote notebooks/{spec['notebook']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
