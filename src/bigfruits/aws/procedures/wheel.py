"""Our package as a wheel for the cluster, from whichever bigfruits runs here:

- **a checkout** (``src/`` beside ``pyproject.toml``): built with ``pip wheel`` from a clean copy
  of its sources in a temporary folder, so the build writes nothing into the checkout
  (``build/``, ``*.egg-info``) and leftovers of an earlier build (a removed module still in
  ``build/lib``) cannot enter the wheel;
- **an installed package** (``pip install bigfruits``, the way users have it): the files its
  ``RECORD`` lists (each checked against its recorded sha256) repacked with the ``wheel``
  package's ``pack``, with fixed timestamps and modes, so the same installation always gives
  the same bytes. Those files are the ones the original wheel held, byte for byte.

Either way the result is kept in the user's cache under a digest of what made it (the sources,
or the installed ``RECORD``), so a second ``create-cluster`` or ``--dry-run`` builds nothing.
The nodes install its dependencies from the wheelhouse (``node_files``), never from an index.
"""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import Distribution, PackageNotFoundError, PackagePath, distribution, version
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from bigfruits.aws.requests.emr.clusters import wheel_name
from bigfruits.errors import EnvironmentProblem
from bigfruits.locations import cache_dir, project_root

# pyproject.toml's SPDX ``license`` string needs setuptools 77 or newer.
MIN_SETUPTOOLS = 77
#: 1980-01-01, the earliest time a zip file can hold: the repacked wheel's every timestamp.
ZIP_EPOCH = "315532800"
#: What pip writes into an installed ``.dist-info`` that no wheel holds (``RECORD`` is remade).
INSTALLER_FILES = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
PASS_WHEEL = "pass --wheel PATH to a bigfruits wheel of this version"


def isolation_flags() -> List[str]:
    """Build with this environment's setuptools when it is new enough (fast, and offline);
    otherwise let pip fetch one into an isolated build environment."""
    try:
        major = int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return []
    return ["--no-build-isolation"] if major >= MIN_SETUPTOOLS else []


#: What setuptools reads from the checkout to build the wheel (pyproject.toml names the rest).
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE")
#: Never copied from ``src/``: what earlier builds and runs leave there.
LEFTOVER_PATTERNS = ("build", "dist", "*.egg-info", "__pycache__", "*.pyc")
BUILD_LEFTOVERS = shutil.ignore_patterns(*LEFTOVER_PATTERNS)


def clean_source_copy(root: Path, into: Path) -> Path:
    """``root``'s build inputs copied to ``into`` (created), without any build leftovers."""
    into.mkdir(parents=True)
    for name in SOURCE_FILES:
        shutil.copy2(root / name, into / name)
    shutil.copytree(root / "src", into / "src", ignore=BUILD_LEFTOVERS)
    return into


def _source_files(root: Path) -> Iterator[Path]:
    """The checkout's build inputs, in a fixed order (what ``clean_source_copy`` copies)."""
    for name in SOURCE_FILES:
        yield root / name
    for folder, dirs, files in os.walk(root / "src"):
        dirs[:] = sorted(d for d in dirs if not BUILD_LEFTOVERS(folder, [d]))
        for name in sorted(files):
            if not BUILD_LEFTOVERS(folder, [name]):
                yield Path(folder) / name


def source_digest(root: Path) -> str:
    """What a checkout's wheel is made from: every build input's path and bytes."""
    digest = hashlib.sha256()
    for path in _source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def build_from_checkout(root: Path, out_dir: Path) -> Path:
    """``pip wheel --no-deps`` of a clean copy of ``root``'s sources, into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bigfruits-wheel-") as scratch:
        source = clean_source_copy(root, Path(scratch) / "source")
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation_flags(), "-q",
             "-w", str(out_dir.resolve()), str(source)],
            capture_output=True, text=True, cwd=scratch,
        )
    built = out_dir / wheel_name()
    if done.returncode != 0 or not built.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"building the wheel failed: {last}", PASS_WHEEL)
    return built


def _installed_files(dist: Optional[Distribution] = None) -> Tuple[str, List[PackagePath]]:
    """(the RECORD's text, the files of the original wheel) of the installed bigfruits (or of
    ``dist``): the package and its ``.dist-info``, without bytecode pip compiled or files pip
    added."""
    if dist is None:
        try:
            dist = distribution("bigfruits")
        except PackageNotFoundError:
            raise EnvironmentProblem("bigfruits is neither a checkout nor an installed package here",
                                     PASS_WHEEL) from None
    record = dist.read_text("RECORD")
    wheel_files = []
    for path in dist.files or []:
        top = path.parts[0]
        if top.endswith(".dist-info") and (len(path.parts) == 2 and path.name in INSTALLER_FILES):
            continue
        if (top == "bigfruits" or top.endswith(".dist-info")) and \
                "__pycache__" not in path.parts and path.suffix != ".pyc":
            wheel_files.append(path)
    if record is None or PackagePath("bigfruits/__init__.py") not in wheel_files:
        raise EnvironmentProblem("the installed bigfruits lists none of its files (an editable "
                                 "install outside its checkout?)", PASS_WHEEL)
    return record, wheel_files


def _recorded_sha256(path: PackagePath, data: bytes) -> bool:
    """Whether ``data`` is what RECORD says this file holds."""
    if path.hash is None:
        return True  # RECORD lists itself without a hash; nothing else here lacks one
    found = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return path.hash.mode == "sha256" and found == path.hash.value


def repack_installed(out_dir: Path, dist: Optional[Distribution] = None) -> Path:
    """The installed distribution's files (or ``dist``'s) repacked into ``out_dir`` as its wheel."""
    _, files = _installed_files(dist)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bigfruits-repack-") as scratch:
        tree = Path(scratch) / "tree"
        for path in files:
            data = Path(str(path.locate())).read_bytes()
            if not _recorded_sha256(path, data):
                raise EnvironmentProblem(f"the installed bigfruits file {path} differs from what "
                                         "pip installed", "reinstall bigfruits, or " + PASS_WHEEL)
            target = tree / path.as_posix()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(0o644)
        done = subprocess.run([sys.executable, "-m", "wheel", "pack", str(tree), "-d", str(out_dir.resolve())],
                              capture_output=True, text=True, env={**os.environ, "SOURCE_DATE_EPOCH": ZIP_EPOCH})
    built = out_dir / wheel_name()
    if done.returncode != 0 or not built.is_file():
        last = ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"repacking the installed bigfruits failed: {last}", PASS_WHEEL)
    return built


def build_wheel(out_dir: Path) -> Path:
    """The bigfruits wheel for the nodes, made into ``out_dir``: from this checkout, else from
    the installed package."""
    root = project_root()
    return build_from_checkout(root, out_dir) if root is not None else repack_installed(out_dir)


def wheel_key() -> str:
    """What the wheel of this bigfruits is made from (a checkout's sources, or the installed
    RECORD with every file's hash), as a short digest."""
    root = project_root()
    if root is not None:
        return "source-" + source_digest(root)
    record, _ = _installed_files()
    return "installed-" + hashlib.sha256(record.encode()).hexdigest()[:32]


def cluster_wheel() -> Path:
    """``build_wheel`` once per version of what it is made from, kept in the user's cache."""
    folder = Path(cache_dir()) / "wheels" / wheel_key()
    wheel = folder / wheel_name()
    if wheel.is_file():
        return wheel
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="partial-", dir=folder.parent) as scratch:
        build_wheel(Path(scratch) / "out")
        try:
            os.replace(Path(scratch) / "out", folder)
        except OSError:  # another process cached the same wheel meanwhile
            if not wheel.is_file():
                raise
    return wheel
