"""``bigfruits run`` as a user runs it, on images it has never seen, with a weights file the test
wrote: features equal Keras called directly, PCA equals scikit-learn, every input accounted for,
pca.csv one file, the run's stage lines, and report.html read back and drawn by Chromium."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from PIL import Image

from tests.support.browser import chromium_or_skip, decoded_images, screenshot
from tests.support.datasets import assert_features_match, build_dataset, keras_features
from tests.support.paths import python_cmd
from tests.support.report_html import read_report

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


def test_pca_csv_is_one_file_with_a_row_per_featurized_image(run):
    out, manifest, _, _ = run
    csv = pd.read_csv(out / "pca.csv")
    assert list(csv.columns) == ["path", "label"] + [f"pc{i}" for i in range(1, K + 1)]
    assert len(csv) == manifest["images_ok"] and csv["path"].is_unique
    assert list(csv["path"]) == sorted(csv["path"])
    pca = read(out, "pca").set_index("path").loc[csv["path"]]
    np.testing.assert_allclose(csv[[f"pc{i}" for i in range(1, K + 1)]].to_numpy(),
                               np.stack(pca["pca"]), rtol=1e-6, atol=1e-6)
    assert (csv["label"].to_numpy() == pca["label"].to_numpy()).all()
    assert not (out / "pca_csv").exists() and not list(out.glob("_*")) and not list(out.glob(".*"))


def test_outputs_manifest_and_report(run, weights_file):
    out, manifest, _, proc = run
    assert manifest["k"] == K
    assert manifest["weights"]["kind"] == "file" and len(manifest["weights"]["sha256"]) == 64
    assert manifest["features_meaningful"] is True
    assert set(manifest["timings"]) == {"spark_start", "list", "model", "reuse", "featurize",
                                        "write_features", "pca_fit", "project", "write",
                                        "total"}
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
    assert not list(out.parent.glob(".*staging*")), "staging folder left behind"
    assert "Traceback" not in proc.stderr


def test_the_run_says_what_each_stage_did_in_order(run):
    """``--no-progress``: one line per finished stage with its time, nothing that only says
    "still working" (no bar, no announcements); failures named in the summary."""
    out, manifest, files, proc = run
    said = [line for line in proc.stderr.splitlines() if line.startswith("bigfruits: ")]
    if said[-1].startswith("bigfruits: once this process ends, Spark's JVM records its class"):
        said.pop()  # the first run in this test session's cache
    stages = [re.match(r"bigfruits: +\d+\.\d s  (.*)$", line) for line in said]
    assert all(stages), said
    done = [stage.group(1) for stage in stages]
    # a local input is listed before Spark starts (a wrong one fails in a second)
    expected = [r"22 images in 5 classes in file:\S.* \(1 other files skipped\)",
                r"Spark \S+ started \(local\[\*\], \d+ cores\)",
                rf"model ready: {manifest['engine']}, file weights, (from the cache|built|exported .*)",
                r"featurized 22 images \(\d+\.\d images/s\)",
                r"wrote features/ \(17 images\) and errors/ \(5 failed, see errors/\)",
                rf"PCA fitted: k={K} keeps \d+\.\d% of the variance",
                rf"projected the images onto {K} components: pca/",
                r"wrote pca.csv, pca_model/, explained_variance.csv, plots/",
                r"wrote report.html", rf"published {re.escape(manifest['output'])}"]
    assert len(done) == len(expected), done
    for line, pattern in zip(done, expected):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert "featurize:" not in proc.stderr and " ..." not in proc.stderr
    assert f"{manifest['images_ok']} of {manifest['images_total']} images featurized (5 failed, " \
           "see errors/)" in proc.stdout


def test_report_shows_the_run_its_classes_examples_pca_timings_and_errors(run):
    out, manifest, files, _ = run
    page = read_report((out / "report.html").read_text(encoding="utf-8"))
    assert page.sections == ["Run", "Summary", "Images per class", "Examples",
                             "Principal components", "Timings", "Errors"]
    meta = page.pairs("Run")
    assert meta["date"] == manifest["created_at"].replace("T", " ").replace("Z", " UTC")
    assert (meta["input"], meta["output"]) == (manifest["input"], manifest["output"])
    assert meta["output"] == out.resolve().as_uri().replace("file:///", "file:/")
    assert page.pairs("Summary")["variance kept"] == f"{manifest['variance_kept']:.1%}"

    per_class = {row[0]: row[1:] for row in page.table("Images per class")[1:]}
    assert per_class == {"Avocado ripe": ["4", "4", "0"], "Walnut": ["4", "4", "0"],
                         "Guava": ["5", "4", "1"], "Pêche é 2": ["5", "5", "0"],
                         "Broken": ["4", "0", "4"], "all classes": ["22", "17", "5"]}
    assert [manifest[key] for key in ("images_total", "images_ok", "images_failed")] == [22, 17, 5]

    examples = [(alt, src) for section, alt, src in page.images if section == "Examples"]
    shown = {alt: sum(1 for other, _ in examples if other == alt) for alt, _ in examples}
    assert shown == {"Avocado ripe": 4, "Guava": 4, "Pêche é 2": 4, "Walnut": 4}
    assert page.paragraphs["Examples"][-1].startswith("No example for Broken: ")
    assert all(src.startswith("data:image/jpeg;base64,") for _, src in examples)

    explained = pd.read_csv(out / "explained_variance.csv")
    share = [f"{ratio:.1%}" for ratio in explained["ratio"][:2]]
    assert page.captions[0] == (f"Each image on PC1 ({share[0]} of the variance) and "
                                f"PC2 ({share[1]} of the variance).")
    plots = [alt for section, alt, _ in page.images if section == "Principal components"]
    assert plots[0] == ("Images on the first two principal components: "  # as the run drew it
                        f"x PC1 ({share[0]} of the variance), y PC2 ({share[1]} of the variance)")
    thresholds = re.search(r"\((80%: .*; 90%: .*; 95%: .*)\)$", plots[1])
    assert plots[1].startswith("Explained variance: x principal component, y share of variance") \
        and thresholds, plots[1]
    assert list(page.pairs("Principal components", 0)) == [
        "80% of the variance", "90% of the variance", "95% of the variance"]
    components = page.table("Principal components", 1)[1:]
    assert [row[0] for row in components] == [str(c) for c in range(1, K + 1)]
    assert [row[1] for row in components] == [f"{100 * r:.2f}%" for r in explained["ratio"]]

    timings = [row[0] for row in page.table("Timings")[1:]]
    assert timings[0] == "starting Spark" and timings[-1] == "total"
    assert timings.index("featurize") < timings.index("PCA fit") < timings.index("projection (pca/)")

    errors = {Path(local(path)).name: cause for path, cause in page.table("Errors")[1:]}
    assert set(errors) == {Path(p).name for p in files["bad"]}
    assert errors["empty.jpg"] == "empty file (0 bytes)"
    assert errors["0-half.jpg"].startswith("cannot decode image")


def test_report_as_chromium_draws_it(run, tmp_path):
    """The page in a real browser: every inlined image (plots, thumbnails) decodes, and the
    screenshot is a page with text, figures and photos on it, not a blank one."""
    chromium = chromium_or_skip()
    out, _, _, _ = run
    page = out / "report.html"
    images, decoded = decoded_images(chromium, page, tmp_path)
    assert images == 2 + 16 and decoded == images
    png = screenshot(chromium, page, tmp_path / "report.png", 1200, 3000)
    with Image.open(png) as shot:
        assert shot.format == "PNG" and shot.size == (1200, 3000)
        pixels = np.asarray(shot.convert("RGB"))
    ink = (pixels.min(axis=2) < 200).mean()  # share of pixels that are not white or near it
    colours = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    assert ink > 0.03 and colours > 500, (ink, colours)
    top = pixels[:400]
    assert (top.min(axis=2) < 100).mean() > 0.005  # the title and the run's table: dark text


def test_chromium_sees_an_image_that_does_not_load_and_a_blank_page(tmp_path):
    """The browser check can fail: an image linked instead of inlined is not decoded, and a
    blank page has no ink."""
    chromium = chromium_or_skip()
    dot = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    page = tmp_path / "page.html"
    page.write_text(f'<!doctype html><html><body><img src="data:image/png;base64,{dot}">'
                    '<img src="thumbs/Kiwi-0.jpg"></body></html>')
    assert decoded_images(chromium, page, tmp_path) == (2, 1)
    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><body></body></html>")
    with Image.open(screenshot(chromium, blank, tmp_path / "blank.png", 400, 300)) as shot:
        assert (np.asarray(shot.convert("RGB")).min(axis=2) < 200).mean() == 0


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_chromium_the_report_test_skips_saying_why_or_fails_in_ci(ci, monkeypatch):
    from _pytest.outcomes import Failed, Skipped

    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises((Failed, Skipped)) as stopped:  # a skip where a failure is due must fail here
        chromium_or_skip()
    assert stopped.type is (Failed if ci else Skipped)
    assert "apt-get install -y chromium" in str(stopped.value)
    assert ("CI=true" in str(stopped.value)) == bool(ci)
