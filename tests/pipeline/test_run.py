"""The run's stages without Spark: the accounting (every selected image ends up in exactly one
of features/ and errors/) and ``run --model`` (a published graph runs with ONNX Runtime only,
and no TensorFlow starts)."""
from __future__ import annotations

import sys

import pytest

from bigfruits.errors import InputError
from bigfruits.pipeline.config import RunConfig
from bigfruits.pipeline.run import check_accounting, start_preparing


#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
@pytest.mark.pure
@pytest.mark.parametrize("listed, ok, failed, distinct", [(5, 3, 2, 5), (4, 4, 0, 4), (3, 0, 3, 3)])
def test_accounting_that_adds_up_passes(listed: int, ok: int, failed: int, distinct: int) -> None:
    """Protects good runs from a false alarm: ok + failed == distinct paths == listed."""
    check_accounting(listed, ok, failed, distinct)


@pytest.mark.pure
@pytest.mark.parametrize("listed, ok, failed, distinct", [
    (5, 3, 1, 4),  # an image lost: neither featurized nor failed
    (5, 4, 2, 5),  # an image counted twice (in both)
    (5, 4, 1, 4),  # a duplicate row: rows add up to listed, distinct paths do not
    (5, 6, 0, 6),  # more rows than images listed
    (5, 3, 2, 6),  # a path that was never listed
])
def test_accounting_that_does_not_add_up_fails_the_run(listed: int, ok: int, failed: int,
                                                       distinct: int) -> None:
    """Protects images_total == images_ok + images_failed in the manifest: any lost, doubled
    or foreign image fails the run with every count in the message."""
    with pytest.raises(RuntimeError) as raised:
        check_accounting(listed, ok, failed, distinct)
    assert str(raised.value) == (f"accounting mismatch: {listed} listed, {ok} featurized, "
                                 f"{failed} failed, {distinct} distinct paths")


def test_a_published_model_is_not_prepared_from_weights_and_needs_no_tensorflow(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # importing it would fail
    preparing, quiet = start_preparing(RunConfig(model="s3://b/models/abc/", weights="random"))
    assert quiet.is_set() and preparing.result() is None  # read by the engine stage, from the folder


def test_a_published_model_is_an_onnx_graph_not_a_tensorflow_one() -> None:
    with pytest.raises(InputError, match="--model is an ONNX graph"):
        start_preparing(RunConfig(model="s3://b/models/abc/", engine="tensorflow"))


@pytest.mark.pure
@pytest.mark.parametrize("options, needle", [
    ({"precision": "fp16"}, "unknown --precision"),
    ({"calibration": "some/folder"}, "--calibration calibrates an int8 graph"),
    ({"precision": "int8", "engine": "tensorflow"}, "--precision int8 is an ONNX Runtime graph"),
    ({"precision": "int8", "calibration": "x", "model": "s3://b/models/abc/"}, "calibrated already"),
])
def test_precision_options_that_do_not_go_together_are_refused_before_any_work(options, needle) -> None:
    with pytest.raises(InputError, match=needle) as refused:
        RunConfig(**options)
    assert "\n" not in str(refused.value)


@pytest.mark.pure
def test_fp32_is_the_default_and_int8_takes_a_calibration_folder() -> None:
    assert (RunConfig().precision, RunConfig().calibration) == ("fp32", None)
    config = RunConfig(precision="int8", calibration="my/images")
    assert config.to_dict()["precision"] == "int8" and config.to_dict()["calibration"] == "my/images"


def test_a_published_graph_runs_only_at_its_own_precision(spark, trained_int8, tmp_path) -> None:
    """``--model`` of an int8 graph with --precision fp32 (or the reverse) is one line saying
    which it is, before any image is featurized; at its precision it runs and reports it."""
    from bigfruits.pipeline.featurize import published
    from bigfruits.pipeline.run import run_pipeline
    from tests.support.paths import SAMPLE

    fp32, quantized = trained_int8
    folders = {}
    for prepared in (fp32, quantized):
        _, graph, identity = published.files_of(prepared)
        folders[prepared.precision] = folder = tmp_path / prepared.precision
        folder.mkdir()
        (folder / published.GRAPH_NAME).write_bytes(graph)
        (folder / published.IDENTITY_NAME).write_bytes(identity)
    for model, precision in (("int8", "fp32"), ("fp32", "int8")):
        with pytest.raises(InputError, match=f"is an {model} graph, not {precision}"):
            run_pipeline(RunConfig(input=str(SAMPLE / "Test" / "Kiwi"), output=str(tmp_path / "out"),
                                   model=str(folders[model]), precision=precision, k=2, progress=False), spark)
    assert not (tmp_path / "out").exists()
    manifest = run_pipeline(RunConfig(input=str(SAMPLE / "Test" / "Kiwi"), output=str(tmp_path / "out"),
                                      model=str(folders["int8"]), precision="int8", k=2, progress=False),
                            spark).manifest
    assert manifest["precision"] == "int8" and manifest["quantization"] == quantized.quantization
    assert manifest["model"]["calibration_sha256"] == quantized.quantization["calibration"]["sha256"]
