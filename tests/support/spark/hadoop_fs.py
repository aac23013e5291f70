"""A stand-in for Hadoop's FileSystem on an object store (S3A), over a local folder, for the
publish logic of ``bigfruits.pipeline.outputs`` without starting Spark.

What matters on an object store and is modelled here: a *rename is a copy* (object by object,
then the sources are deleted), so a rename can fail half-way and leave a partial destination.
The copy order is chosen to be the worst case: ``manifest.json`` first, then the rest sorted.
Only the calls ``OutputTarget`` makes are implemented (``Path(...)``, ``getParent``,
``getName``, ``toString``, ``getFileSystem``, ``makeQualified``, ``exists``, ``delete``,
``rename``, ``copyFromLocalFile``, ``listFiles``, ``FileUtil.copy``), with Hadoop's signatures.

Paths are local (``file:``) unless the file system is given a ``bucket``: then that URI
(``s3a://bkt``) stands for a local folder, and paths below it are written as S3A writes them.
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
    bucket = FakePath.fs.bucket if FakePath.fs is not None else None
    if bucket is not None and (text == bucket[0] or text.startswith(bucket[0] + "/")):
        return bucket[1] + text[len(bucket[0]):]
    return text


class FakePath:
    """``org.apache.hadoop.fs.Path``: ``Path(uri)`` or ``Path(parent, child)``."""

    fs: "Optional[ObjectStoreFs]" = None

    def __init__(self, parent: Any, *child: str) -> None:
        # Path(parent, null) is Hadoop's IllegalArgumentException "Can not create a Path from
        # a null string", as is Path(null).
        if parent is None or len(child) > 1 or None in child:
            raise ValueError(f"Can not create a Path from a null string: Path({parent!r}, {child!r})")
        base = _local(parent.local if isinstance(parent, FakePath) else str(parent))
        self.local = os.path.normpath(os.path.join(base, *child))

    def getParent(self) -> "FakePath":  # noqa: N802 - Hadoop's name
        return FakePath(os.path.dirname(self.local))

    def getName(self) -> str:  # noqa: N802
        return os.path.basename(self.local)

    def toString(self) -> str:  # noqa: N802
        bucket = FakePath.fs.bucket if FakePath.fs is not None else None
        if bucket is not None and (self.local + "/").startswith(bucket[1] + "/"):
            return bucket[0] + (self.local[len(bucket[1]):] or "/")
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
    (``fail_with_false``: returns False instead, as some FileSystems do); the same limit
    holds for the objects copied one by one (``FileUtil.copy``).
    ``bucket``: ``(URI, local folder)``, e.g. ``("s3a://bkt", "/tmp/x/bkt")``: the object store."""

    def __init__(self, on_rename: Optional[Callable[[str, str], None]] = None,
                 copy_limit: Optional[int] = None, fail_with_false: bool = False,
                 bucket: Optional[Tuple[str, str]] = None) -> None:
        self.on_rename = on_rename
        self.copy_limit = copy_limit
        self.fail_with_false = fail_with_false
        self.bucket = bucket
        self.calls: List[Tuple[str, ...]] = []
        self.copied = 0

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


    def listFiles(self, path: FakePath, recursive: bool) -> "_RemoteIterator":  # noqa: N802
        """The files (not folders) below ``path``, in key order as S3 lists them; only those
        directly in it unless ``recursive``."""
        self.calls.append(("list", path.local))
        if not isinstance(recursive, bool):
            raise TypeError(f"listFiles(Path, boolean) got {recursive!r}")
        if not os.path.isdir(path.local):
            raise FileNotFoundError(path.local)
        found = files_under(path.local) if recursive else sorted(
            n for n in os.listdir(path.local) if os.path.isfile(os.path.join(path.local, n)))
        return _RemoteIterator([SimpleNamespace(getPath=lambda p=FakePath(path, f): p) for f in found])

    def copy(self, src_fs: "ObjectStoreFs", src: FakePath, dst_fs: "ObjectStoreFs", dst: FakePath,  # noqa: PLR0913
             delete_source: bool, overwrite: bool, conf: Any) -> bool:
        """``FileUtil.copy`` of one file between two FileSystems (here both this one)."""
        self.calls.append(("copy", src.local, dst.local))
        if not (src_fs is self and dst_fs is self):
            raise TypeError("FileUtil.copy(FileSystem, Path, FileSystem, Path, ...) got another FileSystem")
        if not (isinstance(delete_source, bool) and isinstance(overwrite, bool)):
            raise TypeError(f"FileUtil.copy(..., boolean, boolean, conf) got {delete_source!r}, {overwrite!r}")
        if conf is None:  # Hadoop reads the buffer size from it
            raise TypeError("FileUtil.copy got no Configuration (NullPointerException)")
        if not os.path.isfile(src.local):
            raise FileNotFoundError(src.local)
        if self.copy_limit is not None and self.copied == self.copy_limit:
            if self.fail_with_false:
                return False
            raise PartialCopyError(f"copy of {src.local} failed (simulated)")
        if os.path.exists(dst.local) and not overwrite:
            raise FileExistsError(dst.local)
        os.makedirs(os.path.dirname(dst.local), exist_ok=True)
        shutil.copyfile(src.local, dst.local)
        self.copied += 1
        if delete_source:
            os.remove(src.local)
        return True


class _RemoteIterator:
    """Hadoop's ``RemoteIterator<LocatedFileStatus>``: ``hasNext()``, ``next()``."""

    def __init__(self, statuses: List[Any]) -> None:
        self._statuses = list(statuses)

    def hasNext(self) -> bool:  # noqa: N802
        return bool(self._statuses)

    def next(self) -> Any:
        return self._statuses.pop(0)


def fake_spark(fs: ObjectStoreFs) -> Any:
    """Just enough of a SparkSession for ``OutputTarget`` and ``hadoop_fs.hadoop_path``."""
    FakePath.fs = fs
    hadoop = SimpleNamespace(fs=SimpleNamespace(Path=FakePath, FileUtil=SimpleNamespace(copy=fs.copy)))
    conf = SimpleNamespace(name="the session's Hadoop configuration")
    context = SimpleNamespace(_jvm=SimpleNamespace(org=SimpleNamespace(apache=SimpleNamespace(hadoop=hadoop))),
                              _jsc=SimpleNamespace(hadoopConfiguration=lambda: conf))
    return SimpleNamespace(sparkContext=context)
