"""Generate the two notebooks from one source, or check that they are up to date.

    python notebooks/build.py          # write src/bigfruits/notebooks/*.ipynb
    python notebooks/build.py --check  # exit 1 if a notebook differs from its source

Both notebooks come from ``src/bigfruits.md`` (jupytext Markdown) and are written into the
package (``src/bigfruits/notebooks/``), which ships them: ``create-cluster`` places the JupyterHub
one from there and ``bigfruits notebooks`` copies both out, installed or not. On EMR, JupyterHub and EMR
Studio both run notebooks in sparkmagic's PySpark kernel, which sends each cell to a Livy
session on the cluster, so both get that kernel and the very same code cells. Only Markdown
cells may differ: a Markdown cell tagged ``jupyterhub`` or ``emr-studio`` goes into that
notebook only; every other cell goes into both.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "src" / "bigfruits.md"
#: Where the notebooks go: the package's data (bigfruits.locations.NOTEBOOKS_DIR).
OUT = HERE.parent / "src" / "bigfruits" / "notebooks"

#: flavor -> notebook file
FLAVORS: Dict[str, str] = {
    "jupyterhub": "bigfruits-jupyterhub.ipynb",
    "emr-studio": "bigfruits-emr-studio.ipynb",
}

#: As sparkmagic's ``kernels/pysparkkernel/kernel.json`` and the kernel itself describe it (and as
#: EMR's JupyterHub and EMR Studio save it).
KERNELSPEC = {"name": "pysparkkernel", "display_name": "PySpark", "language": "python"}
LANGUAGE_INFO = {
    "name": "pyspark",
    "mimetype": "text/x-python",
    "codemirror_mode": {"name": "python", "version": 3},
    "file_extension": ".py",
    "pygments_lexer": "python3",
}


def _cells(flavor: str) -> List[nbformat.NotebookNode]:
    cells = []
    for cell in jupytext.read(SOURCE, fmt="md").cells:
        tags = cell.metadata.get("tags", [])
        only = [tag for tag in tags if tag in FLAVORS]
        if only and cell.cell_type == "code":
            raise ValueError(f"{SOURCE.name}: a code cell is tagged {only}; code cells are the "
                             "same in both notebooks")
        if only and flavor not in only:
            continue
        cell.metadata["tags"] = [tag for tag in tags if tag not in FLAVORS]
        if not cell.metadata["tags"]:
            del cell.metadata["tags"]
        cells.append(cell)
    return cells


def build(flavor: str) -> nbformat.NotebookNode:
    """The notebook for ``flavor``, without outputs, with stable metadata."""
    notebook = nbformat.v4.new_notebook(cells=_cells(flavor))
    notebook.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": dict(LANGUAGE_INFO),
        "bigfruits": {"flavor": flavor, "generated_from": "notebooks/src/bigfruits.md "
                                                          "(python notebooks/build.py)"},
    }
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{flavor}-{index:02d}"  # stable ids: regenerating changes nothing
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def render(flavor: str) -> str:
    return nbformat.writes(build(flavor)) + "\n"


def stale_notebooks() -> List[str]:
    """Notebook files that differ from what their source generates."""
    stale = []
    for flavor, name in FLAVORS.items():
        path = OUT / name
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
    for flavor, name in FLAVORS.items():
        (OUT / name).write_text(render(flavor), encoding="utf-8")
        print(f"wrote src/bigfruits/notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
