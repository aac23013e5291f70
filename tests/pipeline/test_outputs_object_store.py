"""Publishing on an object store (``s3://``, ``s3a://``), where a directory has no atomic rename
(S3A's rename is a copy and delete per object): the staged files are copied one by one into the
output, the manifest is written after the last one, and only then is the staging folder deleted;
a copy that fails midway leaves an output without a manifest and the staging folder complete,
and says where it is. Where a rename is atomic (local, HDFS) publishing is one rename.
(The order and the guarantees: ``bigfruits.pipeline.outputs``' docstring and the README.)

Hadoop's FileSystem is tests/support/spark/hadoop_fs.py's, given a bucket: ``s3a://bkt`` is a local
folder, ``listFiles`` and ``FileUtil.copy`` behave as Hadoop's (Java booleans only). The same
guarantees through real S3A, under Spark: tests/e2e/test_publish_s3a.py."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from bigfruits.pipeline.outputs import OutputTarget, PublishError
from tests.support.spark.hadoop_fs import ObjectStoreFs, PartialCopyError, fake_spark, files_under

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

MANIFEST = {"run_id": "new", "images_total": 3, "images_ok": 3, "images_failed": 0}
STAGED = {"features/part-0.parquet": "f0", "features/part-1.parquet": "f1", "pca/data.parquet": "p",
          "plots/a.png": "png", "explained_variance.csv": "k,ratio"}


def store(tmp_path: Path, uri: str = "s3a://bkt", **options: Any) -> ObjectStoreFs:
    return ObjectStoreFs(bucket=(uri, str(tmp_path / "bkt")), **options)


def staged(tmp_path: Path, fs: ObjectStoreFs, output: str = "s3a://bkt/out") -> OutputTarget:
    """A target for ``output`` with data files written into staging (as Spark's writers do,
    nested folders included) and a small file put there from the local scratch space."""
    target = OutputTarget(fake_spark(fs), output, run_id="r1")
    for relative, text in STAGED.items():
        if relative != "explained_variance.csv":
            path = tmp_path / "bkt" / ".out.staging-r1" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    with open(target.local_file("explained_variance.csv"), "w") as handle:
        handle.write(STAGED["explained_variance.csv"])
    target.put("explained_variance.csv")
    return target


def old_output(tmp_path: Path) -> Path:
    """An earlier complete output with a data file the new result does not have."""
    out = tmp_path / "bkt" / "out"
    (out / "features").mkdir(parents=True)
    for name in ("part-0.parquet", "part-7.parquet"):
        (out / "features" / name).write_text("old")
    (out / "manifest.json").write_text(json.dumps({"run_id": "old"}))
    return out


def calls_during(fs: ObjectStoreFs, target: OutputTarget, overwrite: bool) -> List[Tuple[str, ...]]:
    before = len(fs.calls)
    target.publish(MANIFEST, overwrite=overwrite)
    return fs.calls[before:]


@pytest.mark.parametrize("uri", ["s3a://bkt", "s3://bkt"])
@pytest.mark.parametrize("overwrite", [False, True], ids=["fresh", "overwrite"])
def test_object_store_publish_copies_every_file_then_the_manifest_then_drops_staging(
        tmp_path: Path, overwrite: bool, uri: str) -> None:
    """Protects the object-store order: (with --overwrite: the old manifest, then the old
    output) every staged file copied to the same relative path, then manifest.json, then the
    staging folder deleted; never a rename (a non-atomic copy of the whole folder)."""
    if overwrite:
        old_output(tmp_path)
    fs = store(tmp_path, uri)
    target = staged(tmp_path, fs, f"{uri}/out")
    assert (target.final, target.staging) == (f"{uri}/out", f"{uri}/.out.staging-r1")
    calls = calls_during(fs, target, overwrite)

    out, staging = tmp_path / "bkt" / "out", tmp_path / "bkt" / ".out.staging-r1"
    assert files_under(str(out)) == sorted([*STAGED, "manifest.json"])
    assert {name: (out / name).read_text() for name in STAGED} == STAGED
    assert json.loads((out / "manifest.json").read_text()) == MANIFEST
    assert not staging.exists()

    removals = [("delete", str(out / "manifest.json")), ("delete", str(out))] if overwrite else []
    assert calls[:len(removals)] == removals
    listing, *copies, manifest, cleanup = calls[len(removals):]
    assert listing == ("list", str(staging))
    assert sorted(copies) == sorted(("copy", str(staging / name), str(out / name)) for name in STAGED)
    assert manifest == ("put", str(out / "manifest.json"))
    assert cleanup == ("delete", str(staging))


@pytest.mark.parametrize("uri", ["file:", "hdfs://namenode:8020"])
def test_where_rename_is_atomic_publishing_is_one_rename_then_the_manifest(tmp_path: Path, uri: str) -> None:
    """Protects local and HDFS outputs: the staging folder is renamed into place (one atomic
    step, nothing copied, nothing left to delete), then the manifest is written."""
    fs = ObjectStoreFs(bucket=None if uri == "file:" else (uri, str(tmp_path / "bkt")))
    output = str(tmp_path / "bkt" / "out") if uri == "file:" else f"{uri}/out"
    target = staged(tmp_path, fs, output)
    calls = calls_during(fs, target, overwrite=False)
    out, staging = tmp_path / "bkt" / "out", tmp_path / "bkt" / ".out.staging-r1"
    assert calls == [("rename", str(staging), str(out)), ("put", str(out / "manifest.json"))]
    assert files_under(str(out)) == sorted([*STAGED, "manifest.json"])
    assert not staging.exists()


def test_a_rename_refused_says_what_could_not_be_moved_where(tmp_path: Path) -> None:
    """Protects the message when the FileSystem answers the rename with false (no exception
    to quote): the error says which folder could not be moved where, and staging stays."""
    fs = ObjectStoreFs(copy_limit=0, fail_with_false=True)
    target = staged(tmp_path, fs, str(tmp_path / "bkt" / "out"))
    with pytest.raises(PublishError) as failed:
        target.publish(MANIFEST, overwrite=False)
    assert f"(could not move {target.staging} to {target.final})" in failed.value.what
    assert files_under(str(tmp_path / "bkt" / ".out.staging-r1")) == sorted(STAGED)


@pytest.mark.parametrize("fail_with_false", [False, True], ids=["raises", "returns-false"])
@pytest.mark.parametrize("overwrite", [False, True], ids=["fresh", "overwrite"])
def test_a_copy_failing_midway_leaves_no_manifest_and_keeps_staging_complete(
        tmp_path: Path, overwrite: bool, fail_with_false: bool) -> None:
    """Protects "a half-copied output never looks complete, and the result is not lost": the
    second copy fails; the output has no manifest.json (nor the old one), the staging folder
    still holds every staged file, the error names both folders and what to do, and cleaning
    up after the failure (discard) keeps staging, the only complete result."""
    if overwrite:
        old_output(tmp_path)
    fs = store(tmp_path, copy_limit=1, fail_with_false=fail_with_false)
    target = staged(tmp_path, fs)
    with pytest.raises(PublishError) as failed:
        target.publish(MANIFEST, overwrite=overwrite)

    out, staging = tmp_path / "bkt" / "out", tmp_path / "bkt" / ".out.staging-r1"
    assert not (out / "manifest.json").exists()
    assert len(files_under(str(out))) == 1  # one file copied, then the failure
    assert {name: (staging / name).read_text() for name in files_under(str(staging))} == STAGED
    error = failed.value
    assert isinstance(error, OSError)
    assert error.what.startswith(f"publishing {target.final} failed midway (")
    assert "no manifest.json" in error.what
    assert error.todo == (f"the complete new result is in {target.staging}: copy it to {target.final}, "
                          "or run again with --overwrite")
    if fail_with_false:  # our own message: which file could not be copied where
        assert f"could not copy {target.staging}/" in error.what and f" to {target.final}/" in error.what
    else:
        assert isinstance(error.__cause__, PartialCopyError)
    local = os.path.dirname(target.local_file("probe"))  # its local scratch folder
    target.discard()
    assert files_under(str(staging)) == sorted(STAGED)
    assert not Path(local).exists()


class FailingCopy(ObjectStoreFs):
    """Every copy fails with ``error``."""

    def __init__(self, error: Exception, **options: Any) -> None:
        super().__init__(**options)
        self.error = error

    def copy(self, *args: Any) -> bool:
        raise self.error


@pytest.mark.parametrize("error, shown, hidden", [
    (OSError("Connection reset by peer\n\tat org.apache.hadoop.fs.s3a.S3AUtils.translateException"),
     "(Connection reset by peer)", "S3AUtils"),
    (OSError("\n  Read timed out\n\tat java.net.SocketInputStream.read\n"), "(Read timed out)", "java.net"),
    (PartialCopyError(""), "(PartialCopyError)", "\n"),
    (OSError("x" * 5000), "(" + "x" * 200, "x" * 1000),
], ids=["java-trace", "leading-blank-line", "no-message", "very-long"])
def test_a_failed_publish_says_the_causes_first_line_only(tmp_path: Path, error: Exception, shown: str,
                                                           hidden: str) -> None:
    """Protects the one-line error the CLI prints: the cause's first non-blank line (no Java
    stack trace), its type when it has no message, and never a page of text."""
    fs = FailingCopy(error, bucket=("s3a://bkt", str(tmp_path / "bkt")))
    target = staged(tmp_path, fs)
    with pytest.raises(PublishError) as failed:
        target.publish(MANIFEST, overwrite=False)
    assert shown in failed.value.what
    assert hidden not in failed.value.what
    assert failed.value.__cause__ is error


def test_after_a_successful_publish_discard_leaves_the_output_alone(tmp_path: Path) -> None:
    """Protects the end of a run: cleaning up after publishing removes the local scratch
    space only; the output stays complete."""
    fs = store(tmp_path)
    target = staged(tmp_path, fs)
    target.publish(MANIFEST, overwrite=False)
    local = os.path.dirname(target.local_file("probe"))  # its local scratch folder
    target.discard()
    out = tmp_path / "bkt" / "out"
    assert files_under(str(out)) == sorted([*STAGED, "manifest.json"])
    assert not Path(local).exists()
