"""A stand-in for Hadoop's FileSystem on an object store (S3A), over a local folder, for the
publish logic of ``bigfruits.pipeline.outputs`` without starting Spark.

What matters on an object store and is modelled here: a *rename is a copy* (object by object,
then the sources are deleted), so a rename can fail half-way and leave a partial destination.
The copy order is chosen to be the worst case: ``manifest.json`` first, then the rest sorted.
Only the calls ``OutputTarget`` makes are implemented (``Path(...)``, ``getParent``,
``getName``, ``toString``, ``getFileSystem``, ``makeQualified``, ``exists``, ``delete``,
``rename``, ``copyFromLocalFile``), with Hadoop's signatures.
"""
from __future__ import annotations

import os
import shutil
from types import SimpleNamespace
from typing import Any, Callable, List, Optional, Tuple


class PartialCopyError(OSError):
    """What S3A raises when a rename (a copy) stops part-way."""


def _local(text: str) -> str:
    for prefix in ("file://", "file:"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


class FakePath:
    """``org.apache.hadoop.fs.Path``: ``Path(uri)`` or ``Path(parent, child)``."""

    fs: "Optional[ObjectStoreFs]" = None

    def __init__(self, parent: Any, child: Optional[str] = None) -> None:
        base = _local(parent.local if isinstance(parent, FakePath) else str(parent))
        self.local = os.path.normpath(os.path.join(base, child) if child is not None else base)

    def getParent(self) -> "FakePath":  # noqa: N802 - Hadoop's name
        return FakePath(os.path.dirname(self.local))

    def getName(self) -> str:  # noqa: N802
        return os.path.basename(self.local)

    def toString(self) -> str:  # noqa: N802
        return "file:" + self.local

    def getFileSystem(self, conf: Any) -> "ObjectStoreFs":  # noqa: N802
        assert FakePath.fs is not None
        return FakePath.fs


def files_under(folder: str) -> List[str]:
    """Relative paths of every file under ``folder`` (empty if it does not exist), sorted."""
    found = []
    for root, _, names in os.walk(folder):
        found += [os.path.relpath(os.path.join(root, n), folder) for n in names]
    return sorted(found)


class ObjectStoreFs:
    """Hadoop FileSystem calls on a local folder, with an object store's rename.

    ``on_rename(src, dst)`` runs when a rename starts (before anything is copied);
    ``copy_limit``: the rename copies that many objects, then raises ``PartialCopyError``
    (``fail_with_false``: returns False instead, as some FileSystems do)."""

    def __init__(self, on_rename: Optional[Callable[[str, str], None]] = None,
                 copy_limit: Optional[int] = None, fail_with_false: bool = False) -> None:
        self.on_rename = on_rename
        self.copy_limit = copy_limit
        self.fail_with_false = fail_with_false
        self.calls: List[Tuple[str, ...]] = []

    def makeQualified(self, path: FakePath) -> FakePath:  # noqa: N802
        return path

    def exists(self, path: FakePath) -> bool:
        return os.path.exists(path.local)

    def delete(self, path: FakePath, recursive: bool) -> bool:
        self.calls.append(("delete", path.local))
        if not isinstance(recursive, bool):
            raise TypeError(f"delete(Path, boolean) got {recursive!r}")
        if os.path.isdir(path.local):
            if not recursive and os.listdir(path.local):
                raise OSError(f"{path.local} is a non-empty directory")
            shutil.rmtree(path.local)
            return True
        if os.path.exists(path.local):
            os.remove(path.local)
            return True
        return False

    def rename(self, src: FakePath, dst: FakePath) -> bool:
        self.calls.append(("rename", src.local, dst.local))
        if self.on_rename:
            self.on_rename(src.local, dst.local)
        if not os.path.isdir(src.local) or os.path.exists(dst.local):
            return False
        order = sorted(files_under(src.local), key=lambda f: (f != "manifest.json", f))
        for n, relative in enumerate(order):
            if self.copy_limit is not None and n == self.copy_limit:
                if self.fail_with_false:
                    return False
                raise PartialCopyError(f"copy of {relative} failed (simulated)")
            target = os.path.join(dst.local, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(src.local, relative), target)
        shutil.rmtree(src.local)
        return True

    def copyFromLocalFile(self, del_src: bool, overwrite: bool, src: FakePath,  # noqa: N802
                          dst: FakePath) -> None:
        self.calls.append(("put", dst.local))
        # Java booleans: py4j refuses anything else (None included) for this signature.
        if not (isinstance(del_src, bool) and isinstance(overwrite, bool)):
            raise TypeError(f"copyFromLocalFile(boolean, boolean, ...) got {del_src!r}, {overwrite!r}")
        if os.path.exists(dst.local) and not overwrite:
            raise FileExistsError(dst.local)
        os.makedirs(os.path.dirname(dst.local), exist_ok=True)
        shutil.copyfile(src.local, dst.local)
        if del_src:
            os.remove(src.local)


def fake_spark(fs: ObjectStoreFs) -> Any:
    """Just enough of a SparkSession for ``OutputTarget`` and ``ingest.hadoop_path``."""
    FakePath.fs = fs
    hadoop = SimpleNamespace(fs=SimpleNamespace(Path=FakePath))
    context = SimpleNamespace(_jvm=SimpleNamespace(org=SimpleNamespace(apache=SimpleNamespace(hadoop=hadoop))),
                              _jsc=SimpleNamespace(hadoopConfiguration=lambda: None))
    return SimpleNamespace(sparkContext=context)
