"""Hadoop FileSystem access through Spark's JVM (py4j), in one place for every stage that reads
or writes a folder by URI: the input listing, the output's staging and publishing, and the
previous output that ``--reuse`` reads. Also how a path the user gives becomes such a URI.

Spark's own Hadoop configuration is used throughout, so credentials and endpoints set on the
session (``spark.hadoop.*``) apply here as they do to Spark's readers and writers.
"""
from __future__ import annotations

import os
import re
from typing import Any, Iterator, Optional, Tuple

from bigfruits import locations
from bigfruits.errors import EnvironmentProblem

#: ``scheme://`` at the start: a URI, left as it is; anything else is a local path
URI_PATTERN = r"^[a-zA-Z][a-zA-Z0-9+.-]*://"
S3A_PACKAGE_HINT = (
    "on EMR use s3:// (native); elsewhere use s3a:// and add Hadoop's S3 connector, e.g. "
    "--conf spark.jars.packages=org.apache.hadoop:hadoop-aws:{hadoop} (see README, 'Reading from S3')"
)


def is_local(uri: str) -> bool:
    return not re.match(URI_PATTERN, uri) or uri.startswith("file:")


def absolute_uri(path_or_uri: Optional[str]) -> str:
    """What ``--input``, ``--output`` and ``--reuse`` name: a local path made absolute, a URI as
    it is; ``None`` (no ``--input``) is the bundled sample."""
    if path_or_uri is None:
        return os.path.abspath(str(locations.BUNDLED_SAMPLE))
    if re.match(URI_PATTERN, path_or_uri):
        return path_or_uri
    return os.path.abspath(os.path.expanduser(path_or_uri))


def hadoop_configuration(spark: Any) -> Any:
    """The session's Hadoop configuration (credentials, endpoints, connectors)."""
    return spark.sparkContext._jsc.hadoopConfiguration()


def jvm_path(spark: Any, parent: Any, child: Optional[str] = None) -> Any:
    """Hadoop's ``Path(parent)`` or ``Path(parent, child)``; ``parent`` a string or a Path."""
    path_class = spark.sparkContext._jvm.org.apache.hadoop.fs.Path
    return path_class(parent) if child is None else path_class(parent, child)


def hadoop_path(spark: Any, uri: str) -> Tuple[Any, Any]:
    """``(FileSystem, qualified Path)`` for ``uri``; a missing connector becomes one clear line."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    try:
        fs = path.getFileSystem(hadoop_configuration(spark))
    except Exception as exc:  # py4j wraps UnsupportedFileSystemException / ClassNotFoundException
        text = str(exc)
        if "No FileSystem for scheme" in text or "ClassNotFound" in text:
            scheme = uri.split("://", 1)[0]
            hadoop = jvm.org.apache.hadoop.util.VersionInfo.getVersion()
            raise EnvironmentProblem(
                f"Spark here cannot read {scheme}:// paths (no S3 connector)",
                S3A_PACKAGE_HINT.format(hadoop=hadoop),
            ) from None
        raise
    return fs, fs.makeQualified(path)


def list_files(fs: Any, root: Any) -> Iterator[Any]:
    """Every file's ``FileStatus`` below ``root``, recursively (several py4j calls per file)."""
    files = fs.listFiles(root, True)
    while files.hasNext():
        yield files.next()


def copy(spark: Any, source_fs: Any, source: Any, target_fs: Any, target: Any) -> bool:
    """Copy a file or a folder (recursively), replacing what is at ``target``; False when
    Hadoop says it could not."""
    return spark.sparkContext._jvm.org.apache.hadoop.fs.FileUtil.copy(
        source_fs, source, target_fs, target, False, True, hadoop_configuration(spark))


def read_bytes(spark: Any, fs: Any, path: Any) -> bytes:
    """A small file's whole content (a manifest, a published model); ``path`` a URI or a Path."""
    stream = fs.open(jvm_path(spark, path) if isinstance(path, str) else path)
    try:
        return bytes(spark.sparkContext._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
    finally:
        stream.close()


def read_text(spark: Any, fs: Any, uri: str) -> str:
    """A small UTF-8 file's text; undecodable bytes become U+FFFD, as Java's own decoding does."""
    return read_bytes(spark, fs, uri).decode("utf-8", errors="replace")
