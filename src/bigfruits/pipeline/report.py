"""Figures and tables of a run: the same functions serve the run's plots, its ``report.html``
(``report_page``) and the notebooks, so what a notebook shows is what the run wrote."""
from __future__ import annotations

from collections import Counter
from typing import Any, Dict, Iterable, Optional, Union

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


#: the shares of variance the cumulative plot marks
THRESHOLDS = (0.8, 0.9, 0.95)


def components_reaching(explained: pd.DataFrame, threshold: float) -> Optional[int]:
    """The fewest components whose cumulative share reaches ``threshold`` (None: not within k)."""
    reached = explained.loc[explained["cumulative"] >= threshold - 1e-12, "component"]
    return int(reached.iloc[0]) if len(reached) else None


def figure_cumulative_variance(explained: Union[str, pd.DataFrame]) -> Any:
    """Per-component and cumulative explained variance, in percent, with the 80/90/95% lines
    labelled by the number of components that reach them (a path to a run, or its DataFrame)."""
    if isinstance(explained, str):
        explained = read_explained_variance(explained)
    plt = _pyplot()
    from matplotlib.ticker import PercentFormatter

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(explained["component"], explained["ratio"], color="#9ecae1", label="per component")
    ax.plot(explained["component"], explained["cumulative"], color="#08519c", marker=".",
            label="cumulative")
    for threshold in THRESHOLDS:
        ax.axhline(threshold, color="grey", lw=0.6, ls="--")
        reached = components_reaching(explained, threshold)
        where = f"{reached} PCs" if reached else f"not reached with {len(explained)} PCs"
        ax.annotate(f"{threshold:.0%}: {where}", (0.01, threshold), xycoords=("axes fraction", "data"),
                    xytext=(0, 2 if threshold == THRESHOLDS[-1] else -2), textcoords="offset points",
                    va="bottom" if threshold == THRESHOLDS[-1] else "top", fontsize=8, color="#444444")
    ax.set_xlabel("principal component")
    ax.set_ylabel("share of variance explained")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.02)
    ax.set_title("Explained variance")
    ax.legend(loc="center right")
    fig.tight_layout()
    return fig


def axis_label(explained: Optional[pd.DataFrame], component: int) -> str:
    """``"PC1 (12.3% of the variance)"`` (just ``"PC1"`` without the explained variance)."""
    if explained is None or len(explained) < component:
        return f"PC{component}"
    return f"PC{component} ({explained['ratio'].iloc[component - 1]:.1%} of the variance)"


def figure_pc_scatter(points: Union[str, pd.DataFrame],
                      explained: Optional[pd.DataFrame] = None) -> Any:
    """PC1 x PC2, one colour per class, each axis labelled with its share of the variance
    (a path to a run, or ``label, pc1, pc2`` and the explained-variance table)."""
    if isinstance(points, str):
        explained = read_explained_variance(points) if explained is None else explained
        points = read_pc_points(points)
    plt = _pyplot()
    labels = sorted(points["label"].unique())
    fig, ax = plt.subplots(figsize=(9.5 if len(labels) > 1 else 8, 6))
    cmap = plt.get_cmap("tab20" if len(labels) > 10 else "tab10")
    for i, label in enumerate(labels):  # past the palette's colours, another marker
        part = points[points["label"] == label]
        ax.scatter(part["pc1"], part["pc2"], s=12, alpha=0.8, color=cmap(i % cmap.N),
                   marker="o^sD"[(i // cmap.N) % 4], label=label)
    ax.set_xlabel(axis_label(explained, 1))
    ax.set_ylabel(axis_label(explained, 2))
    ax.set_title("Images on the first two principal components")
    if 1 < len(labels) <= 40:  # beside the plot, where it hides no point
        ax.legend(fontsize=7, markerscale=1.5, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  ncol=2 if len(labels) > 20 else 1, frameon=False)
    fig.tight_layout()
    return fig


def describe_figure(fig: Any) -> str:
    """The figure in words, from what it draws: each plot's title, axis labels and annotations
    (the PNG keeps it as its ``Description``, the report shows it as the image's alt text)."""
    parts = []
    for ax in fig.axes:
        notes = [text.get_text() for text in ax.texts]
        parts.append(f"{ax.get_title()}: x {ax.get_xlabel()}, y {ax.get_ylabel()}"
                     + (f" ({'; '.join(notes)})" if notes else ""))
    return " | ".join(parts)


def save_figure(fig: Any, path: str) -> None:
    fig.savefig(path, dpi=110, metadata={"Description": describe_figure(fig)})
    _pyplot().close(fig)


def explained_variance_table(ratios: np.ndarray) -> pd.DataFrame:
    ratios = np.asarray(ratios, dtype=float)
    return pd.DataFrame({"component": np.arange(1, len(ratios) + 1), "ratio": ratios,
                         "cumulative": np.cumsum(ratios)})


def components_table(explained: Union[str, pd.DataFrame], first: int = 10) -> pd.DataFrame:
    """The first components: their share of the variance and the cumulative share, in percent
    (a path to a run, or its explained-variance table)."""
    if isinstance(explained, str):
        explained = read_explained_variance(explained)
    head = explained.head(first)
    return pd.DataFrame({"component": head["component"].astype(int),
                         "share (%)": (100 * head["ratio"]).round(2),
                         "cumulative (%)": (100 * head["cumulative"]).round(2)})


def class_table(labels: Iterable[str], failed: Dict[str, int]) -> pd.DataFrame:
    """Per class (sorted by name): images selected, featurized and failed, from the label of
    every selected image and the failures counted per label."""
    images = Counter(labels)
    rows = [(label, images[label], images[label] - failed.get(label, 0), failed.get(label, 0))
            for label in sorted(images)]
    return pd.DataFrame(rows, columns=["class", "images", "featurized", "failed"])


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
