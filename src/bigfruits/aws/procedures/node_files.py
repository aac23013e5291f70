"""What every node installs and runs, made on the user's machine and uploaded once, named by
content, so that no node downloads anything from the internet (a private subnet with only an
S3 gateway endpoint works):

- the **wheelhouse**: our wheel and every wheel it needs for the nodes' Python (CPython 3.11,
  manylinux x86_64) under the EMR 7 constraints, from ``pip download --only-binary :all:`` here;
  one uncompressed tar (wheels are compressed already) kept in the user's cache under the key of
  what made it, uploaded as ``wheelhouse/<sha256 of the tar>.tar`` when missing; the bootstrap
  installs from it with ``pip install --no-index``.
- the **model**: the ONNX graph this machine exported (or finds in its ONNX cache), or for
  ``--precision int8`` the int8 graph made from it here, and its identity, uploaded as
  ``models/<sha256 of the graph>/`` when missing; the step runs it with ``--model`` (ONNX
  Runtime only: no TensorFlow, Keras, onnx or tf2onnx on the nodes, nothing more for int8).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

from bigfruits.aws.procedures import wheel_closure
from bigfruits.aws.procedures.bucket_files import list_keys, place_file
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.requests import s3
from bigfruits.aws.requests.emr import clusters
from bigfruits.errors import EnvironmentProblem
from bigfruits.locations import NODE_DIR, cache_dir
from bigfruits.pipeline.featurize import cache, published

#: The nodes' Python: Amazon Linux 2023's python3.11 (EMR 7), x86_64 instances.
NODE_PYTHON_VERSION = "3.11"
NODE_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
DOWNLOAD_TIMEOUT_S = 30 * 60


def wheel_digest(wheel: Path) -> str:
    """sha256 of a wheel's files (names and contents), not of its zip timestamps."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name))
    return digest.hexdigest()


def wheelhouse_key(wheel: Path, constraints: Path, extras: str = clusters.WHEEL_EXTRAS,
                   python_version: str = NODE_PYTHON_VERSION) -> str:
    """What a wheelhouse is made from: our wheel's files, the constraints, the extras, the
    target Python and platform (and the closure's format: markers read for the target)."""
    digest = hashlib.sha256()
    for part in (wheel_digest(wheel), constraints.read_text(), extras, python_version, *NODE_PLATFORMS,
                 wheel_closure.FORMAT):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:32]


def download_command(wheel: Path, constraints: Path, into: Path, extras: str = clusters.WHEEL_EXTRAS,
                     python_version: str = NODE_PYTHON_VERSION, more: Sequence[str] = ()) -> List[str]:
    """``more``: top-level requirements the target needs beyond what pip's markers (evaluated
    for this Python, not the target's) bring (``wheel_closure``)."""
    platforms = [arg for p in NODE_PLATFORMS for arg in ("--platform", p)]
    return [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", *platforms,
            "--python-version", python_version, "--implementation", "cp",
            "-d", str(into), "-c", str(constraints), f"{wheel}[{extras}]", *more]


def download_wheels(wheel: Path, constraints: Path, extras: str, python_version: str,
                    more: Sequence[str], into: Path) -> None:
    """pip download of our wheel's dependencies (and ``more``) into ``into``, our wheel beside."""
    done = subprocess.run(download_command(wheel, constraints, into, extras, python_version, more),
                          capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"downloading the packages for Python {python_version} failed: {last}",
                                 "this machine needs PyPI (or your index) once; the nodes never do")
    if not (into / wheel.name).is_file():
        (into / wheel.name).write_bytes(wheel.read_bytes())


def deterministic_tar(folder: Path, out: Path) -> None:
    """The folder's files in name order, with no time, owner or mode of this machine: the same
    wheels give the same bytes (and the same name in S3)."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.iterdir()):
            info = tarfile.TarInfo(path.name)
            info.size, info.mtime, info.mode = path.stat().st_size, 0, 0o644
            with open(path, "rb") as handle:
                tar.addfile(info, handle)


def build_wheelhouse(wheel: Path, constraints: Path = NODE_DIR / clusters.CONSTRAINTS_FILE,
                     extras: str = clusters.WHEEL_EXTRAS, echo=lambda line: None,
                     python_version: str = NODE_PYTHON_VERSION) -> Path:
    """The wheelhouse tar for ``wheel`` on CPython ``python_version``: exactly the closure that
    Python installs (from the user's cache when made before)."""
    folder = Path(cache_dir()) / "wheelhouse"
    tar = folder / f"{wheelhouse_key(wheel, constraints, extras, python_version)}.tar"
    if tar.is_file():
        return tar
    folder.mkdir(parents=True, exist_ok=True)
    echo(f"downloading the packages for CPython {python_version}, manylinux x86_64, "
         "into a wheelhouse (once per version of bigfruits)")
    with tempfile.TemporaryDirectory(prefix="bigfruits-wheelhouse-", dir=folder) as scratch:
        _, found = wheel_closure.complete(
            f"bigfruits[{extras}]", python_version,
            lambda more, into: download_wheels(wheel, constraints, extras, python_version, more, into),
            Path(scratch))
        kept = Path(scratch) / "closure"
        kept.mkdir()
        for path in found.wheels:
            os.link(path, kept / path.name)
        partial = Path(scratch) / "wheelhouse.tar"
        deterministic_tar(kept, partial)
        os.replace(partial, tar)
    return tar


def file_sha256(path: Path) -> str:
    return cache.file_sha256(str(path))


def _place_once(ctx: AwsContext, path: Path, key: str) -> str:
    """Upload unless the key is there already (its name is its content)."""
    if key in list_keys(ctx, ctx.bucket(), key):
        return s3.s3_uri(ctx.bucket(), key)
    return place_file(ctx, path, key)


def upload_wheelhouse(ctx: AwsContext, wheel: Path) -> str:
    """``s3://<bucket>/wheelhouse/<sha256>.tar`` for ``wheel``, uploaded when missing (a dry run
    builds it all the same, and prints the upload it would send)."""
    tar = build_wheelhouse(wheel, echo=ctx.echo)
    return _place_once(ctx, tar, f"{s3.WHEELHOUSE_PREFIX}{file_sha256(tar)}.tar")


def _option(args: Sequence[str], name: str) -> Optional[str]:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in a run's arguments (the last one)."""
    found = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(name + "="):
            found = arg.split("=", 1)[1]
    return found


def no_weights_yet() -> EnvironmentProblem:
    return EnvironmentProblem("the ImageNet weights are not on this machine yet, so there is no model to upload",
                              "run `bigfruits fetch-weights` once (needs internet here, never on the cluster)")


def local_model(weights: str, seed: int, precision: str = "fp32", calibration: Optional[str] = None,
                echo: Callable[[str], None] = print) -> Any:
    """This machine's ONNX graph of ``weights`` at ``precision`` (a ``Prepared``): from its
    ONNX cache, else exported (TensorFlow and tf2onnx here) and for int8 quantized (calibrated
    on ``calibration``, the bundled sample by default); one line when the ImageNet weights are
    missing, or when the int8 graph fails its fidelity gate."""
    from bigfruits.pipeline.featurize.engines import from_cache, prepare
    from bigfruits.pipeline.featurize.int8 import for_precision
    from bigfruits.pipeline.featurize.model import describe_weights

    prepared = from_cache(published.ENGINE, weights, seed)
    if prepared is None:
        if weights == "imagenet" and describe_weights(weights, seed)[3] is None:
            raise no_weights_yet()
        prepared = prepare(published.ENGINE, weights, seed)
    return for_precision(prepared, precision, calibration, echo)


def upload_model(ctx: AwsContext, weights: str = "imagenet", seed: int = 0, precision: str = "fp32",
                 calibration: Optional[str] = None) -> str:
    """``s3://<bucket>/models/<sha256 of the graph>/``: this machine's ONNX graph of ``weights``
    at ``precision`` (int8: calibrated on ``calibration``) and its identity, uploaded when
    missing (a dry run finds or makes the same graph). One function for every way a model
    reaches nodes (steps, notebooks, Serverless)."""
    prepared = local_model(weights, seed, precision, calibration, ctx.echo)
    sha, graph, identity = published.files_of(prepared)
    folder = f"{s3.MODELS_PREFIX}{sha}/"
    with tempfile.TemporaryDirectory(prefix="bigfruits-model-") as tmp:
        for name, data in ((published.GRAPH_NAME, graph), (published.IDENTITY_NAME, identity)):
            (Path(tmp) / name).write_bytes(data)
            _place_once(ctx, Path(tmp) / name, folder + name)
    ctx.echo(f"model {sha[:12]}… ({prepared.weights.kind} weights, {prepared.precision}) at "
             f"{s3.s3_uri(ctx.bucket(), folder)}")
    return s3.s3_uri(ctx.bucket(), folder)


def step_model(extra_args: Sequence[str]) -> Optional[Tuple[str, int, str, Optional[str]]]:
    """The (weights, seed, precision, calibration) whose graph a step with these ``run``
    arguments needs uploaded; None when they name a model already, or the TensorFlow engine
    (installed on the nodes by the user)."""
    if _option(extra_args, "--model") is not None or _option(extra_args, "--engine") == "tensorflow":
        return None
    return (_option(extra_args, "--weights") or "imagenet", int(_option(extra_args, "--seed") or 0),
            _option(extra_args, "--precision") or "fp32", _option(extra_args, "--calibration"))


def check_step_model(extra_args: Sequence[str]) -> None:
    """Before any request: the step's model is on this machine (or made now), else one line."""
    needed = step_model(extra_args)
    if needed is not None:
        local_model(*needed)


def without_option(args: Sequence[str], name: str) -> List[str]:
    """``args`` without any ``--name VALUE`` / ``--name=VALUE``."""
    kept: List[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            kept.append(arg)
    return kept


def step_model_args(ctx: AwsContext, extra_args: Sequence[str]) -> List[str]:
    """A step's ``run`` arguments with ``--model`` added: the graph of its ``--weights``/``--seed``
    at its ``--precision`` uploaded from here (see ``step_model``; int8: made here, calibrated
    on its ``--calibration`` folder, which is of this machine and so taken out of the step's
    arguments; ``--precision`` stays, and the node checks the graph is of that precision)."""
    needed = step_model(extra_args)
    if needed is None:
        return list(extra_args)
    return [*without_option(extra_args, "--calibration"), "--model", upload_model(ctx, *needed)]
