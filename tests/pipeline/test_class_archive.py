"""The JVM class archive of local runs: recorded at the first JVM's exit, adopted only when a
real JVM maps it, then mapped by Spark's driver (the real ``java`` of this machine throughout)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bigfruits.pipeline.class_archive import (ARCHIVE_ENV, SETTLE_SECONDS, UNUSED_DAYS,
                                              archive_key, archive_options, usable)
from bigfruits.pipeline.session import java_executable, spark_jars
from tests.support.ci import skip_or_fail

JAVA = java_executable()


@pytest.fixture(autouse=True)
def java_here() -> None:
    """Every test here runs the real ``java``: without one they skip, or fail under CI."""
    if JAVA is None:
        skip_or_fail("no java on this machine (Java 17 is needed)")


@pytest.fixture()
def jars(tmp_path):
    folder = tmp_path / "jars"
    folder.mkdir()
    (folder / "spark-core.jar").write_bytes(b"jar")
    return str(folder)


def record(path) -> None:
    """A real (small) dynamic archive: the classes ``java -version`` loads, dumped at exit."""
    subprocess.run([JAVA, f"-XX:ArchiveClassesAtExit={path}", "-Xlog:cds*=off", "-version"],
                   check=True, capture_output=True)


def settled(path) -> None:
    old = time.time() - SETTLE_SECONDS - 1
    os.utime(path, (old, old))


def option(options, name):
    return [o for o in options if o.startswith(f"-XX:{name}=")]


def test_a_first_run_records_and_a_later_one_maps_the_archive(tmp_path, jars):
    folder = str(tmp_path / "jvm")
    first = archive_options(JAVA, jars, folder)
    [recording] = option(first, "ArchiveClassesAtExit")
    partial = recording.split("=", 1)[1]
    assert partial.endswith(".partial") and os.path.dirname(partial) == folder
    record(partial)
    assert option(archive_options(JAVA, jars, folder), "ArchiveClassesAtExit"), \
        "a partial that may still be written is not adopted"
    settled(partial)
    later = archive_options(JAVA, jars, folder)
    key = archive_key(JAVA, jars)
    assert option(later, "SharedArchiveFile") == [f"-XX:SharedArchiveFile={folder}/spark-{key}.jsa"]
    assert "-Xshare:auto" in later and "-XX:+VerifySharedSpaces" in later
    assert sorted(os.listdir(folder)) == [f"spark-{key}.jsa"], "the other partial is removed"


def test_a_truncated_archive_is_never_handed_to_spark(tmp_path, jars):
    """A JVM that maps a truncated archive aborts (exit 134): the check runs it first."""
    folder = tmp_path / "jvm"
    folder.mkdir()
    whole = tmp_path / "whole.jsa"
    record(whole)
    assert usable(JAVA, str(whole))
    partial = folder / f"spark-{archive_key(JAVA, jars)}.cut.partial"
    partial.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert not usable(JAVA, str(partial))
    settled(partial)
    options = archive_options(JAVA, jars, str(folder))
    assert not option(options, "SharedArchiveFile") and option(options, "ArchiveClassesAtExit")
    assert not partial.exists()
    assert not list(tmp_path.glob("hs_err_pid*")) and not list(folder.glob("hs_err_pid*"))


def test_other_spark_jars_need_another_archive_and_the_old_one_goes(tmp_path, jars):
    folder = tmp_path / "jvm"
    folder.mkdir()
    old = folder / f"spark-{archive_key(JAVA, jars)}.jsa"
    record(old)
    with open(os.path.join(jars, "spark-core.jar"), "ab") as handle:
        handle.write(b" upgraded")
    options = archive_options(JAVA, jars, str(folder))
    assert option(options, "ArchiveClassesAtExit") and not old.exists()


def test_the_same_jars_in_another_folder_get_their_own_archive_and_leave_the_first(tmp_path, jars):
    """An archive records its class path: a JVM given the same jars from another folder (another
    virtual environment, a fresh clone) ignores it, so each folder has its own; one folder's
    recording leaves the other's archive alone until nobody has used it for UNUSED_DAYS."""
    folder = tmp_path / "jvm"
    folder.mkdir()
    first = folder / f"spark-{archive_key(JAVA, jars)}.jsa"
    record(first)
    clone = tmp_path / "clone-jars"
    clone.mkdir()
    (clone / "spark-core.jar").write_bytes(b"jar")
    assert archive_key(JAVA, str(clone)) != archive_key(JAVA, jars)
    assert archive_key(JAVA, str(clone)).split("-")[1] == archive_key(JAVA, jars).split("-")[1]
    options = archive_options(JAVA, str(clone), str(folder))
    assert option(options, "ArchiveClassesAtExit") and first.exists()
    assert option(archive_options(JAVA, jars, str(folder)), "SharedArchiveFile")  # still used

    older_name = folder / "spark-6385c5137720c969.jsa"  # before keys named the folder
    older_name.write_bytes(b"archive")
    archive_options(JAVA, str(clone), str(folder))
    assert first.exists() and not older_name.exists()
    unused = time.time() - (UNUSED_DAYS + 1) * 86400
    os.utime(first, (unused, unused))
    archive_options(JAVA, str(clone), str(folder))
    assert not first.exists()


def test_turned_off_or_unwritable_means_no_options(tmp_path, jars, monkeypatch):
    monkeypatch.setenv(ARCHIVE_ENV, "0")
    assert archive_options(JAVA, jars, str(tmp_path / "jvm")) == []
    monkeypatch.delenv(ARCHIVE_ENV)
    assert archive_options(JAVA, jars, str(tmp_path / "with space")) == []
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert archive_options(JAVA, jars, str(blocked / "jvm")) == []


SESSION = """
from bigfruits.pipeline.session import get_session
spark = get_session("local[1]")
assert spark.range(5).count() == 5
"""


def test_the_local_spark_driver_records_then_maps_the_archive(tmp_path):
    """Two real local sessions: the first JVM dumps at its exit; the second loads Spark's
    classes from the archive (``-Xlog:class+load`` says "shared objects file (top)")."""
    env = {**os.environ, "BIGFRUITS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop(ARCHIVE_ENV, None)
    subprocess.run([sys.executable, "-c", SESSION], env=env, check=True, capture_output=True,
                   timeout=300)  # returns once the JVM has exited: it shares the pipes
    folder = tmp_path / "cache" / "jvm"
    [partial] = folder.glob("spark-*.partial")
    assert usable(JAVA, str(partial))
    settled(partial)
    log = tmp_path / "classes.log"
    env["JDK_JAVA_OPTIONS"] = f"-Xlog:class+load=info:file={log}"
    subprocess.run([sys.executable, "-c", SESSION], env=env, check=True, capture_output=True,
                   timeout=300)
    assert [p.name for p in folder.iterdir()] == [f"spark-{archive_key(JAVA, spark_jars())}.jsa"]
    loaded = log.read_text()
    assert "org.apache.spark.SparkContext source: shared objects file (top)" in loaded
