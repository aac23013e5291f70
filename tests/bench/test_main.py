"""The benchmark command runs its steps on a tiny input and writes JSON and Markdown."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.support.ci import require_module  # noqa: E402

require_module("onnxruntime")
require_module("tf2onnx")
require_module("psutil")

from tests.support.paths import SAMPLE  # noqa: E402


@pytest.mark.slow
def test_quick_benchmark_writes_results(spark, tmp_path):
    from bigfruits.bench.__main__ import main

    args = ["--quick", "--steps", "ceilings,runs,reuse,pca", "--engines", "onnxruntime",
            "--images", "12", "--pca-rows", "300", "--reuse-images", "6", "--added-images", "2",
            "--source", str(SAMPLE), "--out", str(tmp_path / "out"), "--workdir", str(tmp_path / "work")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "latest.json").read_text())
    assert "errors" not in data, data.get("errors")
    assert data["rates"]["raw_onnxruntime"] > 0 and data["rates"]["decode_inference"] > 0
    assert data["source"] == {"path": str(SAMPLE), "kind": "--source", "distinct_images": 100}
    reuse = data["reuse"]
    assert (reuse["first"]["featurized"], reuse["k_changed"]["featurized"]) == (6, 0)
    assert (reuse["added"]["featurized"], reuse["added"]["reused"]) == (2, 6)
    assert reuse["first"]["peak_all_processes"] > reuse["first"]["peak_driver_python"] > 0
    assert data["rates"]["run_onnxruntime_end_to_end"] > 0
    assert data["manifests"]["onnxruntime"]["images_ok"] == 12
    assert data["pca"]["max_ratio_deviation_vs_sklearn"] < 1e-6
    assert data["breakdown"]["total"] > 0
    table = (tmp_path / "out" / "latest.md").read_text()
    assert "decode + resize + preprocess + ONNX Runtime" in table and "PCA fit 300 x 1280 -> 50" in table
    assert "--source (" in table and "| adding 2 images featurizes those only | 2 featurized, 6 reused | yes |" in table
