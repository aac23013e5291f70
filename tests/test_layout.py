"""The code's layout, held by a test so it stays as the README's development section draws it:
which layer may import which, no module reading another's private names, no one-letter module
aliases, and no function longer than a screen (data such as a policy document aside).

Read from the source with ``ast`` (nothing is imported or run)."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from bigfruits.locations import PACKAGE_DIR

pytestmark = pytest.mark.pure

#: Functions that are data (a document AWS reads), not steps: exempt from the length rule.
DATA_FUNCTIONS = {("aws/requests/iam_policies.py", "service_role_policy")}
MAX_FUNCTION_LINES = 60


TESTS_DIR = Path(__file__).resolve().parent


def modules(root: Path = PACKAGE_DIR) -> Iterator[Tuple[str, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        yield path.relative_to(root).as_posix(), ast.parse(path.read_text())


def imports(tree: ast.Module) -> Iterator[Tuple[str, ast.alias]]:
    """(module, name) of every ``from bigfruits... import name`` and ``import bigfruits...``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bigfruits"):
            for alias in node.names:
                yield node.module, alias
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("bigfruits"):
                    yield alias.name, alias


def imported_modules(tree: ast.Module) -> List[str]:
    """Every bigfruits module a file imports (``from package import module`` included)."""
    found = []
    for module, alias in imports(tree):
        found.append(module)
        candidate = PACKAGE_DIR.parent / (module.replace(".", "/") + "/" + alias.name + ".py")
        if candidate.is_file():
            found.append(f"{module}.{alias.name}")
    return found


#: layer -> the bigfruits.aws layers it must not import
AWS_LAYERS: Dict[str, Tuple[str, ...]] = {
    "aws/procedures/": ("bigfruits.aws.commands", "bigfruits.aws.cli"),
    "aws/requests/": ("bigfruits.aws.commands", "bigfruits.aws.procedures", "bigfruits.aws.cli"),
    "aws/core/": ("bigfruits.aws.commands", "bigfruits.aws.procedures", "bigfruits.aws.requests",
                  "bigfruits.aws.cli"),
}


def test_each_aws_layer_imports_only_the_layers_below_it() -> None:
    wrong = [(name, module) for name, tree in modules() for module in imported_modules(tree)
             for layer, forbidden in AWS_LAYERS.items()
             if name.startswith(layer) and module.startswith(forbidden)]
    assert wrong == []


def test_no_command_imports_another_command() -> None:
    """A command calls procedures; what two commands share is a procedure, so changing one
    command never changes another silently."""
    wrong = [(name, module) for name, tree in modules() if name.startswith("aws/commands/")
             for module in imported_modules(tree) if module.startswith("bigfruits.aws.commands")]
    assert wrong == []


@pytest.mark.parametrize("root", [PACKAGE_DIR, TESTS_DIR], ids=["src", "tests"])
def test_no_module_reads_another_modules_private_names(root: Path) -> None:
    """Neither the package nor its tests: what a test needs of a module is public."""
    wrong = []
    for name, tree in modules(root):
        wrong += [(name, f"{module}.{alias.name}") for module, alias in imports(tree)
                  if alias.name.startswith("_") and not alias.name.startswith("__")]
        bound = {alias.asname or alias.name.split(".")[-1] for _, alias in imports(tree)}
        wrong += [(name, f"{node.value.id}.{node.attr}") for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in bound and node.attr.startswith("_") and not node.attr.startswith("__")]
    assert wrong == []


def private_attributes(root: Path = PACKAGE_DIR) -> set:
    """Private names our classes define: ``self._x = ...`` and ``_x`` defined in a class body."""
    found = set()
    for _, tree in modules(root):
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    names = ([item.name] if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                             else [t.id for t in getattr(item, "targets", [getattr(item, "target", None)])
                                   if isinstance(t, ast.Name)])
                    found.update(names)
    return {name for name in found if name.startswith("_") and not name.startswith("__")}


def attribute_reach_ins(tree: ast.Module, ours: set) -> List[str]:
    """``thing._x`` where ``_x`` is a private name of one of our classes and ``thing`` is not
    ``self``/``cls``: another object's insides (``target._local``, ``sender._clients``)."""
    return [ast.unparse(node) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ours
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            and not (isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "super")]


@pytest.mark.parametrize("root", [PACKAGE_DIR, TESTS_DIR], ids=["src", "tests"])
def test_no_code_reaches_into_another_objects_private_attributes(root: Path) -> None:
    """What another object keeps private (its scratch folder, its clients) is asked for through
    its public methods, so a change inside it cannot break its callers silently."""
    ours = private_attributes()
    wrong = [(name, found) for name, tree in modules(root) for found in attribute_reach_ins(tree, ours)]
    assert wrong == []


def test_the_reach_in_rule_sees_what_the_import_rule_cannot() -> None:
    """Protects the rule above from passing vacuously: it catches a reach-in through a local
    variable, and leaves ``self._x`` and third-party private names (py4j's ``_jvm``) alone."""
    ours = private_attributes()
    assert {"_local", "_clients"} <= ours and "_jvm" not in ours
    code = ast.parse("def f(target, sender, spark):\n"
                     "    self._local = 1\n    x = target._local\n    sender._clients['s3'] = 2\n"
                     "    return spark.sparkContext._jvm\n")
    assert attribute_reach_ins(code, ours) == ["target._local", "sender._clients"]


def test_modules_are_imported_under_names_that_say_what_they_hold() -> None:
    short = [(name, alias.name, alias.asname) for name, tree in modules() for _, alias in imports(tree)
             if alias.asname and len(alias.asname) <= 2]
    assert short == []


def test_no_function_is_longer_than_a_screen() -> None:
    long = [(name, node.name, node.end_lineno - node.lineno + 1) for name, tree in modules()
            for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
            and (name, node.name) not in DATA_FUNCTIONS]
    assert long == []
