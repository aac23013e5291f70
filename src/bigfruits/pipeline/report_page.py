"""``report.html``: one self-contained page a data scientist keeps with the results. What the
run was (date, input, output, weights), what came in and out per class, what the images look
like, the PCA (both plots, the first components), where the time went and what failed.

Everything is inlined (plots as PNG and thumbnails as JPEG ``data:`` URIs, the style in the
page): no request leaves the file. Shares are shown as percentages throughout."""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import pandas as pd

from bigfruits.pipeline.report import (THRESHOLDS, axis_label, components_reaching, precision_text,
                                       components_table)

#: error rows listed in the page (errors/ has them all)
MAX_ERRORS_SHOWN = 50
#: the manifest's ``timings`` keys in pipeline order, as the page names them
STAGE_NAMES = {
    "spark_start": "starting Spark", "list": "listing the input", "model": "preparing the model",
    "reuse": "planning --reuse", "featurize": "featurize",
    "write_features": "writing features/ and errors/", "pca_fit": "PCA fit", "project": "projection (pca/)",
    "write": "writing pca.csv, pca_model/, explained variance, plots", "total": "total",
}
#: the plots (``Written.plots`` keys), in the page's order
PLOTS = ("pc1_pc2", "cumulative_variance")

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:3px 10px;text-align:left;vertical-align:top}
tr:nth-child(even) td{background:#f6f8fa}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.meta th{color:#555;font-weight:normal}.warn{background:#fee;border:1px solid #c00;padding:.5em}
.bad{color:#b00}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));
gap:10px}
.card{border:1px solid #ddd;border-radius:4px;padding:6px}.card p{margin:0 0 4px;font-size:90%;
overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.card img{width:56px;height:56px;
object-fit:contain;margin-right:2px;background:#fff}figure{margin:1em 0}figure img{max-width:100%}
figcaption{color:#555;font-size:90%}.row{display:flex;flex-wrap:wrap;gap:0 3em}
.meta td{word-break:break-all}
"""


@dataclass
class ReportContent:
    """What the page shows: the manifest, the explained-variance table, the plots' local
    paths by name (``PLOTS``), the per-class table (``report.class_table``), the thumbnails
    (class -> ``data:`` URIs) and the first error rows (``path, error``)."""

    manifest: Dict[str, Any]
    explained: pd.DataFrame
    plots: Dict[str, str]
    classes: pd.DataFrame
    thumbnails: Dict[str, List[str]] = field(default_factory=dict)
    errors: Optional[pd.DataFrame] = None


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = (),
           css: str = "") -> str:
    """An HTML table; the columns at the indices ``numeric`` right-aligned."""
    def cells(tag: str, values: Sequence[Any]) -> str:
        return "".join(f'<{tag}{" class=n" if i in numeric else ""}>{_e(v)}</{tag}>'
                       for i, v in enumerate(values))
    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    head = f"<tr>{cells('th', header)}</tr>" if header else ""
    return f'<table{f" class={css}" if css else ""}>{head}{body}</table>'


def _png(path: str, caption: str) -> str:
    """A plot inlined, its alt text the description it was saved with (``report.save_figure``)."""
    from PIL import Image

    with open(path, "rb") as handle:
        data = handle.read()
    with Image.open(io.BytesIO(data)) as image:
        alt = getattr(image, "text", {}).get("Description", caption)
    return (f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(data).decode("ascii")}"><figcaption>{_e(caption)}</figcaption></figure>')


def run_section(manifest: Dict[str, Any]) -> str:
    """What was run (date, paths, model) beside the headline figures."""
    weights = manifest["weights"]
    date = manifest["created_at"].replace("T", " ").replace("Z", " UTC")
    meta = [("date", date), ("input", manifest["input"]), ("output", manifest["output"]),
            ("bigfruits", f'{manifest["bigfruits"]} (run {manifest["run_id"]})'),
            ("engine", manifest["engine"]), ("precision", precision_text(manifest)),
            ("weights", f'{weights["kind"]} (sha256 {weights["sha256"][:12]}…)')]
    failed = manifest["images_failed"]
    figures = [("images", manifest["images_total"]), ("featurized", manifest["images_ok"]),
               ("failed", f"{failed} (see errors/)" if failed else "0"),
               ("components (k)", manifest["k"]), ("variance kept", f'{manifest["variance_kept"]:.1%}'),
               ("images/s (featurize)", f'{manifest["images_per_s"]:.1f}')]
    warning = ("" if weights.get("meaningful", True) else
               '<p class="warn">These features come from RANDOM weights: they are not meaningful '
               "(a test run). Use --weights imagenet or a weights file for real results.</p>")
    return (f'<h1>bigfruits run</h1>{warning}<div class="row"><div><h2>Run</h2>'
            f'{_table([], meta, css="meta")}</div><div><h2>Summary</h2>'
            f'{_table([], figures, numeric=[1])}</div></div>')


def classes_section(classes: pd.DataFrame) -> str:
    """Images, featurized and failed per class, with a total row."""
    rows = [list(row) for row in classes.itertuples(index=False)]
    rows.append(["all classes", *(int(classes[c].sum()) for c in ("images", "featurized", "failed"))])
    return (f"<h2>Images per class</h2><p>{len(classes)} classes.</p>"
            + _table(["class", "images", "featurized", "failed"], rows, numeric=[1, 2, 3]))


def thumbnails_section(classes: pd.DataFrame, thumbnails: Dict[str, List[str]]) -> str:
    """A card per class with its first images (inlined)."""
    cards = []
    for label in classes["class"]:
        if label not in thumbnails:
            continue
        images = "".join(f'<img alt="{_e(label)}" src="{uri}">' for uri in thumbnails[label])
        cards.append(f'<div class="card"><p title="{_e(label)}">{_e(label)}</p>{images}</div>')
    missing = [label for label in classes["class"] if label not in thumbnails]
    shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    more = (f"<p>No example for {_e(shown)}: none of the first images of "
            f"{'that class' if len(missing) == 1 else 'those classes'} could be read, or the page "
            "shows no more classes.</p>" if missing else "")
    return f'<h2>Examples</h2><div class="grid">{"".join(cards)}</div>{more}'


def pca_section(explained: pd.DataFrame, plots: Dict[str, str]) -> str:
    """The scatter, the cumulative plot, where the thresholds are reached and the first
    components, in percent."""
    captions = {"pc1_pc2": f"Each image on {axis_label(explained, 1)} and {axis_label(explained, 2)}.",
                "cumulative_variance": "Share of the variance per component, and cumulated."}
    figures = "".join(_png(plots[name], captions[name]) for name in PLOTS if name in plots)
    reached = []
    for threshold in THRESHOLDS:
        count = components_reaching(explained, threshold)
        reached.append((f"{threshold:.0%} of the variance",
                        f"{count} components" if count else f"not reached with k={len(explained)}"))
    first = components_table(explained)
    rows = [(int(c), f"{s:.2f}%", f"{t:.2f}%") for c, s, t in first.itertuples(index=False)]
    return (f"<h2>Principal components</h2>{figures}{_table([], reached, numeric=[1])}"
            f"<h3>First {len(first)} of {len(explained)} components</h3>"
            + _table(["component", "share of variance", "cumulative"], rows, numeric=[0, 1, 2]))


def timings_section(timings: Dict[str, float], reused: bool = True) -> str:
    """Seconds per stage, in pipeline order (``STAGE_NAMES``: manifest.json sorts its keys);
    a key the page does not know after them; ``reuse`` only when the run had ``--reuse``."""
    order = [key for key in STAGE_NAMES if key in timings and (reused or key != "reuse")]
    order += sorted(set(timings) - set(STAGE_NAMES))
    rows: List[Tuple[str, str]] = [(STAGE_NAMES.get(key, key), f"{timings[key]:.1f} s")
                                   for key in order]
    return "<h2>Timings</h2>" + _table(["stage", "time"], rows, numeric=[1])


def errors_section(errors: Optional[pd.DataFrame], failed: int) -> str:
    """The first failed images and why (errors/ has every one)."""
    if not failed:
        return "<h2>Errors</h2><p>No image failed.</p>"
    shown = errors.head(MAX_ERRORS_SHOWN) if errors is not None else pd.DataFrame(columns=["path", "error"])
    rows = [(path, error) for path, error in shown.itertuples(index=False)]
    hidden = failed - len(rows)
    more = f"<p>and {hidden} more in errors/.</p>" if hidden > 0 else ""
    return (f'<h2>Errors</h2><p class="bad">{failed} images failed.</p>'
            + _table(["path", "cause"], rows) + more)


def render_report(content: ReportContent) -> str:
    """The whole page."""
    manifest = content.manifest
    body = "".join([run_section(manifest), classes_section(content.classes),
                    thumbnails_section(content.classes, content.thumbnails),
                    pca_section(content.explained, content.plots),
                    timings_section(manifest["timings"],
                                    bool(manifest.get("parameters", {}).get("reuse"))),
                    errors_section(content.errors, manifest["images_failed"])])
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bigfruits run '
            f'{_e(manifest["run_id"])}</title><style>{STYLE}</style></head><body>{body}</body></html>')
