"""``report.html`` and the figures and tables it is made of, without Spark: every section a
data scientist keeps is on the page, with the right figures, shares as percentages, the
thumbnails and plots inlined, the timings in pipeline order, the errors with their cause."""
from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bigfruits.pipeline import report
from bigfruits.pipeline.report_page import ReportContent, render_report
from bigfruits.pipeline.thumbnails import data_uri
from tests.support.report_html import read_report

pytestmark = pytest.mark.pure

RATIOS = [0.40, 0.20, 0.12, 0.09, 0.05, 0.04, 0.03, 0.02, 0.01, 0.01, 0.005, 0.005]  # 0.98
TIMINGS = {"spark_start": 2.7, "list": 0.04, "model": 0.1, "reuse": 0.0, "featurize": 3.4,
           "write_features": 1.5, "pca_fit": 1.0, "project": 0.4, "write": 1.3, "total": 11.2}
PIPELINE_ORDER = ["starting Spark", "listing the input", "preparing the model", "planning --reuse",
                  "featurize", "writing features/ and errors/", "PCA fit", "projection (pca/)",
                  "writing pca.csv, pca_model/, explained variance, plots", "total"]


def manifest(failed: int = 2) -> dict:
    return {"bigfruits": "0.1.0", "run_id": "abc123", "created_at": "2026-03-04T05:06:07Z",
            "input": "s3://fruits/raw/Test", "output": "file:/home/me/out/run1",
            "images_total": 9, "images_ok": 9 - failed, "images_failed": failed, "k": len(RATIOS),
            "variance_kept": float(sum(RATIOS)), "engine": "onnxruntime", "images_per_s": 24.5,
            "weights": {"kind": "imagenet", "source": "keras", "sha256": "ab" * 32, "meaningful": True},
            "timings": dict(TIMINGS), "parameters": {"reuse": "file:/home/me/out/run0"}}


def photo(colour: "tuple[int, int, int]", size: "tuple[int, int]" = (100, 100)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def explained() -> pd.DataFrame:
    return report.explained_variance_table(np.array(RATIOS))


@pytest.fixture(scope="module")
def plots(tmp_path_factory, explained) -> dict:
    folder = tmp_path_factory.mktemp("plots")
    rng = np.random.default_rng(0)
    points = pd.DataFrame({"label": ["Kiwi"] * 5 + ["Apple Red 1"] * 4,
                           "pc1": rng.normal(size=9), "pc2": rng.normal(size=9)})
    paths = {"cumulative_variance": str(folder / "cumulative_variance.png"),
             "pc1_pc2": str(folder / "pc1_pc2.png")}
    report.save_figure(report.figure_cumulative_variance(explained), paths["cumulative_variance"])
    report.save_figure(report.figure_pc_scatter(points, explained), paths["pc1_pc2"])
    return paths


def page_of(explained, plots, failed: int = 2):
    labels = ["Kiwi"] * 5 + ["Apple Red 1"] * 4
    classes = report.class_table(labels, {"Kiwi": failed} if failed else {})
    thumbnails = {"Kiwi": [data_uri(photo((120, 100, 60)))] * 3,
                  "Apple Red 1": [data_uri(photo((200, 20, 30), (640, 480)))] * 4}
    errors = pd.DataFrame({"path": [f"file:/in/Test/Kiwi/bad{i}.jpg" for i in range(failed)],
                           "error": ["cannot decode image: truncated"] * failed})
    html = render_report(ReportContent(manifest(failed), explained, plots, classes, thumbnails, errors))
    return html, read_report(html)


def test_every_section_is_on_the_page_in_order(explained, plots):
    _, page = page_of(explained, plots)
    assert page.sections == ["Run", "Summary", "Images per class", "Examples",
                             "Principal components", "Timings", "Errors"]


def test_the_run_says_when_on_what_and_where(explained, plots):
    _, page = page_of(explained, plots)
    run = page.pairs("Run")
    assert run["date"] == "2026-03-04 05:06:07 UTC"
    assert run["input"] == "s3://fruits/raw/Test" and run["output"] == "file:/home/me/out/run1"
    assert run["weights"].startswith("imagenet (sha256 abababababab")


def test_the_summary_shows_shares_as_percentages_and_failures_only_when_there_are(explained, plots):
    _, page = page_of(explained, plots)
    summary = page.pairs("Summary")
    assert summary["variance kept"] == "98.0%"
    assert summary["failed"] == "2 (see errors/)"
    assert summary["images"] == "9" and summary["featurized"] == "7"
    _, clean = page_of(explained, plots, failed=0)
    assert clean.pairs("Summary")["failed"] == "0"
    assert clean.paragraphs["Errors"] == ["No image failed."]


def test_images_and_failures_per_class(explained, plots):
    _, page = page_of(explained, plots)
    assert page.table("Images per class") == [
        ["class", "images", "featurized", "failed"],
        ["Apple Red 1", "4", "4", "0"],
        ["Kiwi", "5", "3", "2"],
        ["all classes", "9", "7", "2"]]


def test_thumbnails_are_small_jpegs_inlined_per_class(explained, plots):
    html, page = page_of(explained, plots)
    shown = [(alt, src) for section, alt, src in page.images if section == "Examples"]
    assert [alt for alt, _ in shown] == ["Apple Red 1"] * 4 + ["Kiwi"] * 3
    for _, src in shown:
        assert src.startswith("data:image/jpeg;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
            image.load()  # decodes whole: a cut-short JPEG raises
            assert max(image.size) <= 80 and image.format == "JPEG"
    assert page.paragraphs["Examples"] == ["Apple Red 1", "Kiwi"]
    classes = report.class_table(["Kiwi", "Fig", "Apple Red 1"], {"Fig": 1})
    html_missing = render_report(ReportContent(manifest(), report.explained_variance_table(
        np.array(RATIOS)), {}, classes, {"Kiwi": [data_uri(photo((1, 2, 3)))]}))
    assert read_report(html_missing).paragraphs["Examples"][-1] == (
        "No example for Apple Red 1, Fig: none of the first images of those classes could be "
        "read, or the page shows no more classes.")
    assert "http://" not in html and "https://" not in html  # nothing to fetch: one file


def test_plots_are_inlined_with_each_axis_share_in_the_caption(explained, plots):
    _, page = page_of(explained, plots)
    figures = [(alt, src) for section, alt, src in page.images if section == "Principal components"]
    assert [alt for alt, _ in figures] == [  # the description the figure was saved with
        "Images on the first two principal components: x PC1 (40.0% of the variance), "
        "y PC2 (20.0% of the variance)",
        "Explained variance: x principal component, y share of variance explained "
        "(80%: 4 PCs; 90%: 6 PCs; 95%: 8 PCs)"]
    assert all(src.startswith("data:image/png;base64,") for _, src in figures)
    assert page.captions[0] == ("Each image on PC1 (40.0% of the variance) and "
                                "PC2 (20.0% of the variance).")


def test_thresholds_and_first_components_in_percent(explained, plots):
    _, page = page_of(explained, plots)
    assert page.pairs("Principal components", 0) == {
        "80% of the variance": "4 components",  # 0.40 + 0.20 + 0.12 + 0.09 = 0.81
        "90% of the variance": "6 components",  # 0.90 after six (0.86 + 0.04)
        "95% of the variance": "8 components"}  # 0.95 after eight
    components = page.table("Principal components", 1)
    assert components[0] == ["component", "share of variance", "cumulative"]
    assert components[1:4] == [["1", "40.00%", "40.00%"], ["2", "20.00%", "60.00%"],
                               ["3", "12.00%", "72.00%"]]
    assert len(components) == 1 + 10  # the first ten of twelve


def test_timings_are_in_pipeline_order(explained, plots):
    _, page = page_of(explained, plots)
    rows = page.table("Timings")
    assert [name for name, _ in rows[1:]] == PIPELINE_ORDER
    assert rows[-1] == ["total", "11.2 s"]


def test_timings_show_reuse_only_for_a_run_with_reuse(explained, plots):
    content = ReportContent(manifest(), explained, plots, report.class_table(["Kiwi"], {}))
    content.manifest["parameters"] = {"reuse": None}
    rows = read_report(render_report(content)).table("Timings")
    assert [name for name, _ in rows[1:]] == [n for n in PIPELINE_ORDER if n != "planning --reuse"]


def test_timings_are_in_pipeline_order_from_a_manifest_read_back(explained, plots):
    """manifest.json sorts its keys: the page's order is the pipeline's, not the file's."""
    content = ReportContent(manifest(), explained, plots, report.class_table(["Kiwi"], {}))
    content.manifest["timings"] = dict(sorted({**TIMINGS, "later_stage": 0.5}.items()))
    rows = read_report(render_report(content)).table("Timings")
    assert [name for name, _ in rows[1:]] == PIPELINE_ORDER + ["later_stage"]


def test_errors_list_each_path_and_cause(explained, plots):
    _, page = page_of(explained, plots)
    assert page.table("Errors") == [["path", "cause"],
                                    ["file:/in/Test/Kiwi/bad0.jpg", "cannot decode image: truncated"],
                                    ["file:/in/Test/Kiwi/bad1.jpg", "cannot decode image: truncated"]]
    assert page.paragraphs["Errors"] == ["2 images failed."]


def test_the_scatter_axes_say_each_components_share(explained):
    points = pd.DataFrame({"label": ["a", "b"], "pc1": [0.0, 1.0], "pc2": [1.0, 0.0]})
    fig = report.figure_pc_scatter(points, explained)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "PC1 (40.0% of the variance)"
    assert ax.get_ylabel() == "PC2 (20.0% of the variance)"


def test_the_cumulative_plot_labels_its_thresholds_and_reads_in_percent(explained):
    ax = report.figure_cumulative_variance(explained).axes[0]
    labels = [text.get_text() for text in ax.texts]
    assert labels == ["80%: 4 PCs", "90%: 6 PCs", "95%: 8 PCs"]
    assert [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [0.8, 0.9, 0.95]
    assert ax.yaxis.get_major_formatter()(0.5, 0) == "50%"
    short = report.explained_variance_table(np.array([0.5, 0.3]))
    assert [t.get_text() for t in report.figure_cumulative_variance(short).axes[0].texts] == [
        "80%: 2 PCs", "90%: not reached with 2 PCs", "95%: not reached with 2 PCs"]


@pytest.mark.parametrize("threshold, expected", [(0.4, 1), (0.6, 2), (0.95, 8), (0.99, None)])
def test_components_reaching_a_share(explained, threshold, expected):
    assert report.components_reaching(explained, threshold) == expected


def test_class_table_counts_failures_per_class():
    table = report.class_table(["b", "a", "b", "b", "c"], {"b": 2, "c": 1})
    assert table.values.tolist() == [["a", 1, 1, 0], ["b", 3, 1, 2], ["c", 1, 0, 1]]


def test_components_table_is_in_percent(explained):
    table = report.components_table(explained, first=3)
    assert table.values.tolist() == [[1, 40.0, 40.0], [2, 20.0, 60.0], [3, 12.0, 72.0]]


def test_a_thumbnail_is_a_small_jpeg_and_a_broken_image_none(tmp_path: Path):
    uri = data_uri(photo((1, 2, 3), (1000, 500)))
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as image:
        image.load()
        assert image.size == (80, 40)
    assert data_uri(photo((1, 2, 3))[:200]) is None  # truncated
    assert data_uri(b"name,weight\n") is None
