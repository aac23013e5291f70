"""Figures and the one-page ``report.html``: the same figure functions serve the run's plots
and the notebooks, so what a notebook shows is what the run wrote."""
from __future__ import annotations

import base64
import html
from typing import Any, Dict, List, Optional, Union

import numpy as np
import pandas as pd


def _pyplot() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg",) and not _in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None
    except ImportError:
        return False


def import_pyplot_ahead() -> None:
    """Import pyplot before the first figure needs it (a run does it while it waits); not in a
    notebook, whose own matplotlib backend is set up where it runs."""
    if not _in_notebook():
        _pyplot()


def _active_spark() -> Any:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError("reading results from a path needs an active SparkSession")
    return spark


def read_explained_variance(output: str) -> pd.DataFrame:
    """``explained_variance.csv`` of a published run (local or S3) as a DataFrame."""
    spark = _active_spark()
    frame = spark.read.csv(f"{output}/explained_variance.csv", header=True, inferSchema=True).toPandas()
    return frame.sort_values("component").reset_index(drop=True)


def read_pc_points(output: str) -> pd.DataFrame:
    """``label, pc1, pc2`` of every image of a published run, for the scatter plot."""
    return pc_points(_active_spark().read.parquet(f"{output}/pca"))


def pc_points(pca: Any) -> pd.DataFrame:
    """``DataFrame[label, pca]`` (Spark) -> pandas ``label, pc1, pc2`` (two numbers per image)."""
    from pyspark.sql import functions as F

    return pca.select("label", F.col("pca")[0].alias("pc1"),
                      F.col("pca")[1].alias("pc2")).toPandas()


def figure_cumulative_variance(explained: Union[str, pd.DataFrame]) -> Any:
    """Per-component and cumulative explained variance (a path to a run, or its DataFrame)."""
    if isinstance(explained, str):
        explained = read_explained_variance(explained)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(explained["component"], explained["ratio"], color="#9ecae1", label="per component")
    ax.plot(explained["component"], explained["cumulative"], color="#08519c", marker=".",
            label="cumulative")
    for threshold in (0.8, 0.9, 0.95):
        ax.axhline(threshold, color="grey", lw=0.6, ls="--")
    ax.set_xlabel("principal component")
    ax.set_ylabel("share of variance explained")
    ax.set_ylim(0, 1.02)
    ax.set_title("Explained variance")
    ax.legend(loc="center right")
    fig.tight_layout()
    return fig


def figure_pc_scatter(points: Union[str, pd.DataFrame]) -> Any:
    """PC1 x PC2, one colour per class (a path to a run, or ``label, pc1, pc2``)."""
    if isinstance(points, str):
        points = read_pc_points(points)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    labels = sorted(points["label"].unique())
    cmap = plt.get_cmap("tab20" if len(labels) > 10 else "tab10")
    for i, label in enumerate(labels):
        part = points[points["label"] == label]
        ax.scatter(part["pc1"], part["pc2"], s=12, alpha=0.8, color=cmap(i % cmap.N), label=label)
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.set_title("Images on the first two principal components")
    if len(labels) <= 30:
        ax.legend(fontsize=7, markerscale=1.5, loc="best", ncol=2 if len(labels) > 12 else 1)
    fig.tight_layout()
    return fig


def save_figure(fig: Any, path: str) -> None:
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)


def explained_variance_table(ratios: np.ndarray) -> pd.DataFrame:
    ratios = np.asarray(ratios, dtype=float)
    return pd.DataFrame({"component": np.arange(1, len(ratios) + 1), "ratio": ratios,
                         "cumulative": np.cumsum(ratios)})


def _img(path: str) -> str:
    with open(path, "rb") as handle:
        data = base64.b64encode(handle.read()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def precision_text(manifest: Dict[str, Any]) -> str:
    """``fp32``, or ``int8`` with its layers kept in fp32 and its held-out fidelity to fp32."""
    quantization = manifest.get("quantization")
    if not quantization:
        return manifest.get("precision", "fp32")
    held, gate = quantization["fidelity"]["held_out"], quantization["gate"]
    return (f"int8 ({len(quantization['kept_fp32'])} of {quantization['layers']} layers kept in "
            f"fp32); features vs fp32 on {held['images']} held-out images: mean cosine "
            f"{held['cosine_mean']:.4f} (gate >= {gate['cosine_mean']}), 1st percentile "
            f"{held['cosine_p1']:.4f} (gate >= {gate['cosine_p1']})")


def render_report(manifest: Dict[str, Any], plots: List[str],
                  errors: Optional[pd.DataFrame] = None) -> str:
    """One self-contained HTML page: the figures of the run, its plots, what failed."""
    weights = manifest["weights"]
    warning = ("" if weights.get("meaningful", True) else
               '<p class="warn">These features come from RANDOM weights: they are not meaningful '
               "(a test run). Use --weights imagenet or a weights file for real results.</p>")
    rows = [("images", manifest["images_total"]), ("featurized", manifest["images_ok"]),
            ("failed", manifest["images_failed"]), ("components (k)", manifest["k"]),
            ("variance kept", f'{manifest["variance_kept"]:.4f}'),
            ("engine", manifest["engine"]), ("precision", precision_text(manifest)),
            ("weights", f'{weights["kind"]} ({weights["sha256"][:12]})'),
            ("images/s (featurize)", f'{manifest["images_per_s"]:.1f}')]
    rows += [(f"time: {stage}", f"{seconds:.1f} s") for stage, seconds in manifest["timings"].items()]
    table = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                    for k, v in rows)
    failed = ""
    if errors is not None and len(errors):
        items = "".join(f"<tr><td>{html.escape(p)}</td><td>{html.escape(e)}</td></tr>"
                        for p, e in errors.head(50).itertuples(index=False))
        hidden = manifest["images_failed"] - min(len(errors), 50)
        more = f"<p>and {hidden} more in errors/</p>" if hidden > 0 else ""
        failed = f"<h2>Images that failed</h2><table>{items}</table>{more}"
    figures = "".join(f"<figure>{_img(p)}</figure>" for p in plots)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>bigfruits run</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}th{{text-align:left;padding-right:1em}}
td,th{{padding:2px 6px}}.warn{{background:#fee;border:1px solid #c00;padding:.5em}}img{{max-width:100%}}</style>
</head><body><h1>bigfruits run</h1><p>input: {html.escape(str(manifest["parameters"]["input"]))}</p>
{warning}<table>{table}</table>{figures}{failed}</body></html>"""
