"""Hadoop FileSystem access and how a path the user gives becomes a URI."""
from __future__ import annotations

import os

import pytest


@pytest.mark.pure
def test_input_resolution_and_locality(tmp_path, monkeypatch):
    """Protects where --input points: nothing -> the bundled sample, a relative or ~ path ->
    absolute, a URI untouched; file: URIs and plain paths are local, s3:// is not."""
    from bigfruits.locations import BUNDLED_SAMPLE
    from bigfruits.pipeline.hadoop_fs import absolute_uri, is_local

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert absolute_uri(None) == os.path.abspath(BUNDLED_SAMPLE) and os.path.isdir(BUNDLED_SAMPLE)
    assert absolute_uri("in") == str(tmp_path / "in")
    assert absolute_uri("~/x") == str(tmp_path / "home" / "x")
    assert absolute_uri("s3://b/raw/") == "s3://b/raw/"
    assert absolute_uri("s3a://b/raw") == "s3a://b/raw"
    assert is_local("/d/x") and is_local("file:/d/x") and is_local("file:///d/x") and is_local("rel/x")
    assert not is_local("s3://b/x") and not is_local("hdfs://nn/x") and not is_local("s3a://b/x")
    assert not is_local("S3://b/x") and not is_local("HDFS://nn/x")  # schemes are case-insensitive


@pytest.mark.pure
def test_hadoop_path_asks_with_the_session_configuration_and_explains_only_missing_connectors(monkeypatch):
    """Protects Hadoop access: the FileSystem comes from the session's Hadoop configuration
    (credentials, endpoints); a missing connector class is one clear line, any other error
    (e.g. access denied) goes up unchanged."""
    from types import SimpleNamespace

    from bigfruits.errors import EnvironmentProblem
    from bigfruits.pipeline.hadoop_fs import hadoop_path
    from tests.support.spark.hadoop_fs import FakePath, ObjectStoreFs, fake_spark

    spark = fake_spark(ObjectStoreFs())
    conf = object()
    spark.sparkContext._jsc = SimpleNamespace(hadoopConfiguration=lambda: conf)
    spark.sparkContext._jvm.org.apache.hadoop.util = SimpleNamespace(
        VersionInfo=SimpleNamespace(getVersion=lambda: "3.4.1"))
    asked = []
    original = FakePath.getFileSystem
    monkeypatch.setattr(FakePath, "getFileSystem", lambda self, c: asked.append(c) or original(self, c))
    fs, path = hadoop_path(spark, "/d/in")
    assert asked == [conf] and path.toString() == "file:/d/in"

    def failing(message):  # type: ignore[no-untyped-def]
        def get(self, c):  # type: ignore[no-untyped-def]
            raise RuntimeError(message)
        return get

    monkeypatch.setattr(FakePath, "getFileSystem", failing(
        "java.lang.ClassNotFoundException: Class org.apache.hadoop.fs.s3a.S3AFileSystem not found"))
    with pytest.raises(EnvironmentProblem) as raised:
        hadoop_path(spark, "s3a://b/raw")
    assert raised.value.what == "Spark here cannot read s3a:// paths (no S3 connector)"
    assert "hadoop-aws:3.4.1" in raised.value.todo
    monkeypatch.setattr(FakePath, "getFileSystem", failing("AccessDenied"))
    with pytest.raises(RuntimeError, match="^AccessDenied$"):
        hadoop_path(spark, "s3a://b/raw")
    from bigfruits.pipeline.hadoop_fs import absolute_uri
    assert absolute_uri("S3://b/raw") == "S3://b/raw"  # a URI whatever its scheme's case
