"""A failed run never leaves output that looks complete; --overwrite replaces only on success."""
from __future__ import annotations

import json
import shutil

import pytest

from bigfruits.pipeline import pca as pca_module
from bigfruits.pipeline.config import RunConfig
from bigfruits.pipeline.run import run_pipeline
from tests.support.paths import SAMPLE


@pytest.fixture()
def small_input(tmp_path):
    for label in ("Kiwi", "Mango"):
        dst = tmp_path / "in" / "Test" / label
        dst.mkdir(parents=True)
        for src in sorted((SAMPLE / "Test" / label).glob("*.jpg"))[:4]:
            shutil.copy(src, dst)
    return tmp_path / "in"


def config(small_input, out, **kw):
    return RunConfig(input=str(small_input), output=str(out), k=3, weights="random",
                     progress=False, **kw)


def test_failure_late_in_the_run_publishes_nothing(spark, small_input, tmp_path, monkeypatch):
    def broken_fit(self, dataset):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(pca_module.ExactPCA, "fit", broken_fit)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="simulated"):
        run_pipeline(config(small_input, out), spark=spark)
    assert not out.exists()
    assert not list(tmp_path.glob(".out.staging-*")), "staging left behind"


def test_overwrite_keeps_the_old_output_when_the_new_run_fails(spark, small_input, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = run_pipeline(config(small_input, out), spark=spark)
    before = json.loads((out / "manifest.json").read_text())
    assert before["run_id"] == first.manifest["run_id"] and before["images_ok"] == 8

    monkeypatch.setattr(pca_module.ExactPCA, "fit", lambda self, d: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        run_pipeline(config(small_input, out, overwrite=True), spark=spark)
    assert json.loads((out / "manifest.json").read_text())["run_id"] == before["run_id"]

    monkeypatch.undo()
    second = run_pipeline(config(small_input, out, overwrite=True), spark=spark)
    after = json.loads((out / "manifest.json").read_text())
    assert after["run_id"] == second.manifest["run_id"] != before["run_id"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["errors", "explained_variance.csv", "features", "manifest.json", "pca", "pca.csv",
         "pca_model", "plots", "report.html"])


def test_a_failed_publish_keeps_the_complete_staging_and_names_it(spark, small_input, tmp_path, monkeypatch):
    from bigfruits.pipeline.outputs import OutputTarget, PublishError

    out = tmp_path / "out"
    run_pipeline(config(small_input, out), spark=spark)

    def broken_move(self):
        raise OSError("simulated: the move failed")

    monkeypatch.setattr(OutputTarget, "_move_into_place", broken_move)
    with pytest.raises(PublishError) as raised:
        run_pipeline(config(small_input, out, overwrite=True), spark=spark)
    [staging] = tmp_path.glob(".out.staging-*")
    assert str(staging) in str(raised.value) and "simulated" in str(raised.value)
    assert not (out / "manifest.json").exists(), "the old output still looks complete"
    assert {"features", "pca", "report.html"} <= {p.name for p in staging.iterdir()}
    assert not (staging / "manifest.json").exists()
