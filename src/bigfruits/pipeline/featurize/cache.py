"""The user's cache of exported models, so a later run with the same weights needs neither
TensorFlow's import nor the ONNX export (about 10 s of a small run).

Two kinds of files under ``cache_dir()`` (``$BIGFRUITS_CACHE_DIR``, else
``$XDG_CACHE_HOME/bigfruits``, else ``~/.cache/bigfruits``):

- ``onnx/<weights sha256>-opset<N>-tf2onnx<version>.onnx``: the exported graph, named by the
  sha256 of the weight tensors (the identity the manifest reports) and what made it.
- ``weights/<source key>.json``: which tensor sha256 a ``--weights`` argument gives, so the ONNX
  file can be found without building the Keras model. The source key is the sha256 of what
  determines the tensors: a weights file's bytes (also the cached ImageNet download), or for
  ``--weights random`` the seed, our drawing scheme and the Keras version (Keras builds the
  layers we do not draw, e.g. batch-norm statistics).

Every file is written to a temporary name and renamed, so a reader never sees half a file, and
two runs writing at once both leave a whole one. A cache that cannot be written (read-only home)
only costs the export next time.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
from importlib.metadata import PackageNotFoundError, version
from typing import Optional

from bigfruits.locations import cache_dir

#: bumped when ``randomize_weights`` draws differently
RANDOM_SCHEME = "he-normal-numpy-v1"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "none"


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_key(kind: str, detail: str) -> str:
    """The sha256 naming a ``--weights`` source: ``("file", sha256 of its bytes)`` or
    ``("random", str(seed))``."""
    text = f"{kind}:{detail}"
    if kind == "random":
        text += f":{RANDOM_SCHEME}:keras={_version('keras')}"
    return hashlib.sha256(text.encode()).hexdigest()


def _write_atomically(path: str, data: bytes) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # no cache here: the next run exports again


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def known_sha256(key: Optional[str]) -> Optional[str]:
    """The tensor sha256 a source key gave before, if this cache remembers it."""
    data = _read(os.path.join(cache_dir(), "weights", f"{key}.json")) if key else None
    try:
        return str(json.loads(data)["sha256"]) if data else None
    except (ValueError, KeyError, TypeError):
        return None


def remember_sha256(key: Optional[str], sha256: str) -> None:
    if key:
        _write_atomically(os.path.join(cache_dir(), "weights", f"{key}.json"),
                          json.dumps({"sha256": sha256}).encode())


def onnx_path(weights_sha256: str, opset: int) -> str:
    name = f"{weights_sha256}-opset{opset}-tf2onnx{_version('tf2onnx')}.onnx"
    return os.path.join(cache_dir(), "onnx", name)


def read_onnx(weights_sha256: str, opset: int) -> Optional[bytes]:
    """The graph exported from these weights at this opset by this environment's tf2onnx; where
    tf2onnx is not installed (a light install that runs or uploads models it cannot export),
    the newest export of them by any tf2onnx."""
    data = _read(onnx_path(weights_sha256, opset))
    if not data and _version("tf2onnx") == "none":
        pattern = os.path.join(cache_dir(), "onnx", f"{weights_sha256}-opset{opset}-tf2onnx*.onnx")
        for path in sorted(glob.glob(pattern), key=os.path.getmtime, reverse=True):
            data = _read(path)
            if data:
                break
    return data or None


def write_onnx(weights_sha256: str, opset: int, blob: bytes) -> None:
    _write_atomically(onnx_path(weights_sha256, opset), blob)
