"""The dependency archive an EMR Serverless job unpacks as ``./deps``: our wheel and every
package it needs, installed for the image's own Python, with no interpreter inside.

Why not a virtualenv (venv-pack, AWS's samples): a venv links to the interpreter that made it,
so the workers stop with ``./environment/bin/python: No such file or directory``, and making it
for the image's Python needs Docker. Here the nodes' wheelhouse (``node_files``: the same wheels,
made for CPython X.Y, manylinux x86_64, markers read for X.Y) is unpacked with ``pip install
--no-index --no-deps --target`` into a folder, and that folder becomes a deterministic .tar.gz
(sorted, no times, owners or local modes) named by its sha256, uploaded once. The whole closure
goes in: our numpy, pandas and pyarrow come first on PYTHONPATH and shadow the image's.

The archive is kept in the user's cache under the key of what made it; a dry run builds it too
(the real command up to the sender) and prints its real key.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, List

from packaging.utils import parse_wheel_filename

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures import node_files, wheel_closure
from bigfruits.aws.procedures.bucket_files import place_once
from bigfruits.aws.procedures.wheel import build_wheel
from bigfruits.aws.requests import emr_serverless
from bigfruits.aws.requests.emr import clusters
from bigfruits.errors import EnvironmentProblem, InputError
from bigfruits.locations import cache_dir

#: Inside the archive: what it was made for, which the driver checks and `probe` prints.
TAG_FILE = "bigfruits-archive.json"
INSTALL_TIMEOUT_S = 20 * 60
#: Part of an archive's cache key: how it is laid out (a change makes the old ones unused).
ARCHIVE_FORMAT = "deps-by-name-1"


def check_python(python_version: str) -> str:
    if python_version not in emr_serverless.PYTHONS:
        raise InputError(f"no dependency archive for Python {python_version}",
                         f"pass --python {' or '.join(emr_serverless.PYTHONS)} (see `bigfruits aws serverless probe`)")
    return python_version


def install_command(pins: List[str], wheels: Path, target: Path, python_version: str) -> List[str]:
    """pip unpacks exactly these ``name==version`` (the target's closure) from the folder of
    wheels, for CPython ``python_version``: nothing is resolved or fetched, nothing compiled
    (the image's Python compiles its own). By name from ``--find-links``, not by file: a file
    would be recorded (direct_url.json) with this machine's temporary path, and the same wheels
    would not make the same archive."""
    platforms = [arg for p in node_files.NODE_PLATFORMS for arg in ("--platform", p)]
    return [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheels), "--no-deps",
            "--target", str(target), "--only-binary", ":all:", *platforms, "--python-version", python_version,
            "--implementation", "cp", "--no-compile", "--disable-pip-version-check", *pins]


def deterministic_targz(folder: Path, out: Path) -> None:
    """``folder``'s tree as .tar.gz: paths sorted, no time, owner or local mode (executables
    stay 0755, the rest 0644), gzip without name or time: the same files, the same bytes."""
    with open(out, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if info.isfile():
                info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                info.mode = 0o755 if info.isdir() else info.mode
                tar.addfile(info)


def unpack_closure(wheelhouse: Path, target: Path, python_version: str, scratch: Path) -> List[str]:
    """The wheelhouse's closure for the target installed into ``target``; the wheels' names."""
    wheels = scratch / "wheels"
    wheels.mkdir()
    with tarfile.open(wheelhouse) as tar:  # flat: one file per wheel, written by its base name
        for member in tar.getmembers():
            source = tar.extractfile(member) if member.isfile() else None
            if source is not None:
                (wheels / Path(member.name).name).write_bytes(source.read())
    found = wheel_closure.closure(wheels, f"bigfruits[{clusters.WHEEL_EXTRAS}]", python_version)
    if found.missing:  # the wheelhouse builder completes it: a partial archive is never made
        raise EnvironmentProblem(f"the wheelhouse lacks {', '.join(found.missing)}",
                                 "delete ~/.cache/bigfruits/wheelhouse")
    pins = ["{}=={}".format(*parse_wheel_filename(path.name)[:2]) for path in found.wheels]
    done = subprocess.run(install_command(pins, wheels, target, python_version), capture_output=True,
                          text=True, timeout=INSTALL_TIMEOUT_S)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"unpacking the packages for Python {python_version} failed: {last}",
                                 "delete ~/.cache/bigfruits/wheelhouse and try again")
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts naming this machine's Python
    return [p.name for p in found.wheels]


def build_archive(python_version: str = emr_serverless.DEFAULT_PYTHON,
                  echo: Callable[[str], None] = lambda line: None) -> Path:
    """The dependency archive for ``python_version``, built from our wheel (from the cache when
    made before from the same wheelhouse)."""
    check_python(python_version)
    with tempfile.TemporaryDirectory(prefix="bigfruits-archive-") as tmp:
        wheel = build_wheel(Path(tmp) / "wheel")
        wheelhouse = node_files.build_wheelhouse(wheel, echo=echo, python_version=python_version)
        folder = Path(cache_dir()) / "serverless"
        made_from = f"{wheelhouse.name}\0{python_version}\0{wheel_closure.FORMAT}\0{ARCHIVE_FORMAT}"
        key = hashlib.sha256(made_from.encode()).hexdigest()[:32]
        archive = folder / f"{key}.tar.gz"
        if archive.is_file():
            return archive
        echo(f"making the dependency archive for the image's Python {python_version} (once per version of bigfruits)")
        folder.mkdir(parents=True, exist_ok=True)
        deps = Path(tmp) / "deps"
        wheels = unpack_closure(wheelhouse, deps, python_version, Path(tmp))
        tag = {"python": python_version, "platforms": list(node_files.NODE_PLATFORMS), "wheels": wheels}
        (deps / TAG_FILE).write_text(json.dumps(tag, indent=1, sort_keys=True) + "\n")
        partial = Path(tmp) / "archive.tar.gz"
        deterministic_targz(deps, partial)
        shutil.move(str(partial), archive)
    return archive


def place_archive(ctx: AwsContext, archive: Path) -> str:
    """``s3://<bucket>/serverless/archives/<sha256>.tar.gz`` (a dry run prints the real key),
    uploaded when missing."""
    sha = node_files.file_sha256(archive)
    return place_once(ctx, archive, f"{emr_serverless.ARCHIVES_PREFIX}{sha}.tar.gz")
