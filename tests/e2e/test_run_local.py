"""``bigfruits run`` as a user runs it, on images it has never seen, with a weights file the test
wrote: features equal Keras called directly, PCA equals scikit-learn, every input accounted for."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.support.paths import python_cmd
from tests.support.datasets import assert_features_match, build_dataset, keras_features

K = 5


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("unseen") / "fruits"
    files = build_dataset(root)
    return root, files


def local(path: str) -> str:
    return path[len("file:"):] if path.startswith("file:") else path


@pytest.fixture(scope="module", params=["onnxruntime", "tensorflow"])
def run(request, dataset, weights_file, tmp_path_factory):
    root, files = dataset
    out = tmp_path_factory.mktemp(f"out-{request.param}") / "results"
    proc = subprocess.run(
        python_cmd("run", "--input", str(root), "--output", str(out), "--weights", str(weights_file),
                   "--k", str(K), "--engine", request.param, "--no-progress"),
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    return out, manifest, files, proc


@pytest.fixture(scope="module")
def keras_reference(dataset, weights_file):
    return keras_features(dataset[1]["good"], weights_file)


def read(out: Path, name: str) -> pd.DataFrame:
    return pq.read_table(out / name).to_pandas()


def test_features_equal_keras_called_directly(run, keras_reference):
    out, manifest, _, _ = run
    features = read(out, "features")
    assert_features_match(features, keras_reference)
    assert np.std(np.stack(features["features"]), axis=0).mean() > 1e-3  # not constant


def test_labels_are_parent_folders(run):
    out, _, _, _ = run
    for frame in (read(out, "features"), read(out, "pca")):
        assert (frame["label"] == frame["path"].map(lambda p: p.rsplit("/", 2)[-2])).all()
    assert "Pêche é 2" in set(read(out, "features")["label"])


def test_pca_equals_scikit_learn(run):
    from sklearn.decomposition import PCA

    out, manifest, _, _ = run
    features = read(out, "features").sort_values("path")
    X = np.stack(features["features"]).astype(np.float64)
    reference = PCA(n_components=K, svd_solver="full").fit(X)
    explained = pd.read_csv(out / "explained_variance.csv")
    assert list(explained.columns) == ["component", "ratio", "cumulative"]
    np.testing.assert_allclose(explained["ratio"], reference.explained_variance_ratio_, atol=1e-6)
    np.testing.assert_allclose(explained["cumulative"], np.cumsum(reference.explained_variance_ratio_), atol=1e-6)
    pca = read(out, "pca").set_index("path").loc[features["path"]]
    ours = np.stack(pca["pca"]).astype(np.float64)
    theirs = reference.transform(X)
    scale = np.abs(theirs).max()
    for c in range(K):
        sign = np.sign(ours[:, c] @ theirs[:, c])
        np.testing.assert_allclose(sign * ours[:, c], theirs[:, c], atol=1e-3 * scale, rtol=0)


def test_every_input_is_accounted_for_and_bad_files_are_error_rows(run):
    out, manifest, files, _ = run
    errors = read(out, "errors")
    expected_bad = {str(p) for p in files["bad"]}
    assert {local(p) for p in errors["path"]} == expected_bad
    reasons = {Path(local(p)).name: e for p, e in zip(errors["path"], errors["error"])}
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    for name in ("truncated.jpg", "corrupt.jpg", "not-an-image.jpg"):
        assert reasons[name].startswith("cannot decode image"), reasons[name]
    total = len(files["good"]) + len(files["bad"])
    assert manifest["images_total"] == total
    assert manifest["images_ok"] == len(files["good"])
    assert manifest["images_failed"] == len(files["bad"])
    assert manifest["images_ok"] + manifest["images_failed"] == manifest["images_total"]
    seen = list(read(out, "features")["path"]) + list(errors["path"])
    assert len(seen) == len(set(seen)) == total
    assert manifest["files_skipped"] == {"not .jpg/.jpeg/.png": 1}


def test_outputs_manifest_and_report(run, weights_file):
    out, manifest, _, proc = run
    csv_dir = out / "pca_csv"
    csv = pd.concat(pd.read_csv(p) for p in csv_dir.glob("part-*.csv"))
    assert list(csv.columns) == ["path", "label"] + [f"pc{i}" for i in range(1, K + 1)]
    assert len(csv) == manifest["images_ok"]
    assert manifest["k"] == K
    assert manifest["weights"]["kind"] == "file" and len(manifest["weights"]["sha256"]) == 64
    assert manifest["features_meaningful"] is True
    assert set(manifest["timings"]) == {"reuse", "featurize", "pca_fit", "write", "total"}
    assert (manifest["reused"], manifest["featurized"], manifest["dropped"]) == (0, manifest["images_total"], 0)
    assert manifest["images_per_s"] > 0
    for package in ("python", "spark", "numpy"):
        assert package in manifest["versions"]
    assert manifest["parameters"]["k"] == K
    assert manifest["engine_builds"] == manifest["python_workers"] >= 1  # one model per worker
    assert (out / "plots" / "cumulative_variance.png").stat().st_size > 1000
    assert (out / "plots" / "pc1_pc2.png").stat().st_size > 1000
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2 and "http" not in page.replace(
        "http-equiv", "")
    assert "truncated.jpg" in page
    assert not list(out.parent.glob(".*staging*")), "staging folder left behind"
    assert "Traceback" not in proc.stderr
