"""Publishing a run's output (``OutputTarget``): staged, moved into place, ``manifest.json`` last.

Object stores: on S3 a rename is a copy, so a move that fails half-way leaves a partial output;
only the manifest tells a complete output from a partial one, so it must never travel with the
move. tests/support/spark/hadoop_fs.py stands in for Hadoop's FileSystem with that behaviour (no
Spark: these are pure tests, run per mutant by mutmut, see docs/mutation-testing.md); the last
test wraps a real Hadoop FileSystem the same way.
"""
from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bigfruits.errors import OutputExistsError
from bigfruits.pipeline.outputs import OutputTarget
from tests.support.spark.hadoop_fs import ObjectStoreFs, fake_spark, files_under

MANIFEST = {"run_id": "new", "images_total": 3, "images_ok": 2, "images_failed": 1}


def staged_target(tmp_path: Path, fs: ObjectStoreFs, run_id: str = "r1") -> OutputTarget:
    """A target for ``tmp_path/out`` with two data files and a small file staged."""
    target = OutputTarget(fake_spark(fs), str(tmp_path / "out"), run_id=run_id)
    for relative, text in (("features/part-0.parquet", "f"), ("pca/data.parquet", "p")):
        path = Path(target.uri(relative)[len("file:"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    with open(target.local_file("plots/a.png"), "w") as handle:
        handle.write("png")
    target.put("plots/a.png")
    return target


def old_output(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "features").mkdir(parents=True)
    (out / "features" / "part-0.parquet").write_text("old")
    (out / "manifest.json").write_text(json.dumps({"run_id": "old"}))
    return out


class ManifestWatch:
    """The ``on_rename`` hook: what the staging folder holds when the move starts."""

    def __init__(self) -> None:
        self.staged_at_move: List[List[str]] = []

    def __call__(self, src: str, dst: str) -> None:
        self.staged_at_move.append(files_under(src))


@pytest.mark.pure
@pytest.mark.parametrize("overwrite", [False, True], ids=["fresh", "overwrite"])
def test_manifest_is_not_in_staging_when_the_move_starts(tmp_path: Path, overwrite: bool) -> None:
    """Protects "manifest written last": when the staging folder is moved (a copy on S3), it
    holds the data but no manifest.json; the manifest appears in the output only after the
    move. Holds for any publish order (old output deleted before or after its manifest)."""
    if overwrite:
        old_output(tmp_path)
    watch = ManifestWatch()
    fs = ObjectStoreFs(on_rename=watch)
    target = staged_target(tmp_path, fs)
    target.publish(MANIFEST, overwrite=overwrite)

    assert watch.staged_at_move == [["features/part-0.parquet", "pca/data.parquet", "plots/a.png"]]
    out = tmp_path / "out"
    assert files_under(str(out)) == ["features/part-0.parquet", "manifest.json",
                                     "pca/data.parquet", "plots/a.png"]
    assert json.loads((out / "manifest.json").read_text()) == MANIFEST
    assert (out / "features" / "part-0.parquet").read_text() == "f"  # the new data, not the old
    assert not list(tmp_path.glob(".out.staging-*"))
    # The manifest is the last thing written into the output.
    writes = [c for c in fs.calls if c[0] in ("put", "rename")]
    assert writes[-1] == ("put", str(out / "manifest.json"))


@pytest.mark.pure
@pytest.mark.parametrize("fail_with_false", [False, True], ids=["raises", "returns-false"])
@pytest.mark.parametrize("overwrite", [False, True], ids=["fresh", "overwrite"])
def test_failed_move_leaves_no_manifest_in_the_output(tmp_path: Path, overwrite: bool,
                                                      fail_with_false: bool) -> None:
    """Protects "a half-copied output never looks complete": the move stops after copying one
    object (the manifest first, if staging had one), and the output then has no manifest.json
    (neither a new one nor, with --overwrite, the old one over a mix of old and new data)."""
    if overwrite:
        old_output(tmp_path)
    fs = ObjectStoreFs(copy_limit=1, fail_with_false=fail_with_false)
    target = staged_target(tmp_path, fs)
    with pytest.raises(OSError) as failed:
        target.publish(MANIFEST, overwrite=overwrite)
    if fail_with_false:  # our own error: it says what could not be moved where
        assert target.staging in str(failed.value) and target.final in str(failed.value)
    out = tmp_path / "out"
    assert not (out / "manifest.json").exists()
    assert "manifest.json" not in files_under(str(tmp_path))


@pytest.mark.pure
def test_publish_refuses_an_existing_output_without_overwrite(tmp_path: Path) -> None:
    """Protects the old output: without --overwrite, publish (and check_free) refuse, and the
    old output with its manifest is left exactly as it was."""
    out = old_output(tmp_path)
    fs = ObjectStoreFs()
    target = staged_target(tmp_path, fs)
    with pytest.raises(OutputExistsError) as raised:
        target.check_free(overwrite=False)
    assert raised.value.what == f"output already exists: file:{out}"
    assert raised.value.todo == "pass --overwrite to replace it, or choose another --output"
    with pytest.raises(OutputExistsError):
        target.publish(MANIFEST, overwrite=False)
    assert files_under(str(out)) == ["features/part-0.parquet", "manifest.json"]
    assert json.loads((out / "manifest.json").read_text()) == {"run_id": "old"}
    assert not [c for c in fs.calls if c[0] in ("rename", "delete")]
    target.check_free(overwrite=True)  # allowed to replace: no error


@pytest.mark.pure
def test_staging_is_a_hidden_sibling_named_after_the_run(tmp_path: Path) -> None:
    """Protects where work in progress goes: beside the output, hidden (a leading dot, which
    Spark and our listing skip), named per run so two runs never share one."""
    target = OutputTarget(fake_spark(ObjectStoreFs()), str(tmp_path / "out"), run_id="abc")
    assert target.final == f"file:{tmp_path / 'out'}"
    assert target.staging == f"file:{tmp_path / '.out.staging-abc'}"
    assert target.uri("features") == f"file:{tmp_path / '.out.staging-abc'}/features"
    generated = OutputTarget(fake_spark(ObjectStoreFs()), str(tmp_path / "out"))
    assert re.fullmatch(r"[0-9a-f]{12}", generated.run_id), generated.run_id  # 12 hex digits
    assert generated.run_id != OutputTarget(fake_spark(ObjectStoreFs()), str(tmp_path / "out")).run_id
    for made in (target, generated):
        made.cleanup_local()


@pytest.mark.pure
def test_manifest_text_is_sorted_indented_and_stringifies_odd_values(tmp_path: Path) -> None:
    """Protects the manifest's format: readable JSON (indent 2, sorted keys), and values JSON
    cannot hold (a date) written as text rather than failing the run at the very end."""
    target = staged_target(tmp_path, ObjectStoreFs())
    manifest: Dict[str, Any] = {"z": 1, "a": {"d": datetime.date(2026, 1, 2)}}
    target.publish(manifest, overwrite=False)
    text = (tmp_path / "out" / "manifest.json").read_text()
    assert text == '{\n  "a": {\n    "d": "2026-01-02"\n  },\n  "z": 1\n}'


@pytest.mark.pure
def test_put_copies_and_keeps_the_local_file_and_replaces_a_staged_one(tmp_path: Path) -> None:
    """Protects small files (CSV, PNG): put copies into staging, replacing an earlier copy,
    and keeps the local file; delete_staged removes a staged folder; discard removes staging
    and the local scratch space."""
    target = staged_target(tmp_path, ObjectStoreFs())
    local = target.local_file("plots/a.png")
    scratch = os.path.dirname(target.local_file("probe"))  # the target's local scratch folder
    assert os.path.isfile(local) and local.startswith(scratch + os.sep)
    assert os.path.basename(scratch).startswith("bigfruits-")  # recognisable in /tmp
    with open(local, "w") as handle:
        handle.write("png2")
    target.put("plots/a.png")
    staging = Path(target.staging[len("file:"):])
    assert (staging / "plots" / "a.png").read_text() == "png2"
    assert os.path.isfile(local)
    target.delete_staged("features")
    assert files_under(str(staging)) == ["pca/data.parquet", "plots/a.png"]
    target.discard()
    assert not staging.exists() and not os.path.exists(scratch)
    target.discard()  # twice: nothing left, no error


def test_publish_with_a_real_hadoop_filesystem_moves_before_the_manifest(spark, tmp_path: Path) -> None:
    """Protects "manifest written last" on Hadoop's real (local) FileSystem: the real fs is
    wrapped so the move checks that staging holds no manifest.json at that moment."""
    target = OutputTarget(spark, str(tmp_path / "out"), run_id="real")
    with open(target.local_file("explained_variance.csv"), "w") as handle:
        handle.write("k,ratio\n1,0.5\n")
    target.put("explained_variance.csv")
    real_fs, seen = target.fs, []

    class Watched:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_fs, name)

        def rename(self, src: Any, dst: Any) -> bool:
            seen.append(files_under(str(tmp_path / ".out.staging-real")))
            return real_fs.rename(src, dst)

    target.fs = Watched()
    target.publish({"run_id": "real"}, overwrite=False)
    assert [[f for f in files if not f.endswith(".crc")] for files in seen] == [
        ["explained_variance.csv"]]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == {"run_id": "real"}
