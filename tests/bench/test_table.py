"""The benchmark's verdicts and report, from a results dict (no Spark, no models)."""
from __future__ import annotations

from bigfruits.bench.table import largest_run, markdown, targets


def results(**overrides):
    base = {
        "date": "2026-01-01 00:00 UTC",
        "machine": {"description": "2 cores", "load_before": 0.1, "load_after": 0.2},
        "images": 600,
        "weights": "random",
        "default_engine": "onnxruntime",
        "rates": {"users_rebuild_per_batch": 10.0, "raw_onnxruntime": 160.0,
                  "run_onnxruntime_end_to_end": 60.0},
        "sized_runs": {"600": {"total": 10.0}, "20000": {"total": 160.0}},
        "pca": {"rows": 20000, "width": 1280, "k": 50, "ours_s": 2.0, "spark_ml_s": 26.0,
                "sklearn_s": 1.5},
        "scale": {"images": 67692, "total_s": 800.0},
    }
    base.update(overrides)
    return base


def verdicts(data):
    return {name.split(" (")[0]: met for name, _, met in targets(data)}


def test_throughput_targets_use_the_largest_run():
    assert largest_run(results()) == (20000, 125.0)
    met = verdicts(results())
    assert met["run end to end"] is True  # 125 >= 0.7 * 160 and >= 10 * 10
    slow = results(sized_runs={"20000": {"total": 200.0}})  # 100 images/s < 112
    assert [m for n, _, m in targets(slow) if "70%" in n] == [False]


def test_pca_and_full_size_targets():
    rows = {name: met for name, _, met in targets(results())}
    assert rows["PCA fit >= 5x faster than Spark ML"] is True
    assert rows["PCA fit within 2x of scikit-learn"] is True
    assert rows["full size (67,692 images) under 15 minutes"] is True
    rows = {name: met for name, _, met in targets(results(pca={"ours_s": 6.0, "spark_ml_s": 26.0,
                                                                "sklearn_s": 1.5}, scale={}))}
    assert rows["PCA fit >= 5x faster than Spark ML"] is False
    assert rows["PCA fit within 2x of scikit-learn"] is False
    assert rows["full size (67,692 images) under 15 minutes"] is None


def test_markdown_has_ratios_and_verdicts():
    text = markdown(results(errors={"users": "RuntimeError: boom"}))
    assert "| raw ONNX Runtime, no Spark, batch 64 | 160.0 | 16.0x | 100% |" in text
    assert "| bigfruits run onnxruntime end to end | 60.0 | 6.0x | 38% |" in text
    assert "| full size (67,692 images) under 15 minutes | 800 s | yes |" in text
    assert "- users: RuntimeError: boom" in text


def test_nothing_measured_is_not_a_pass():
    assert all(met is None for _, _, met in targets({"rates": {}}))
