"""``python -m bigfruits.bench``: measure the performance targets' figures (and our users'
patterns as the baseline), print the table, write JSON + Markdown."""
from __future__ import annotations

import json
import os
import shutil
from typing import Optional

import click

from bigfruits.bench.runner import BenchSettings, default_workdir, measure
from bigfruits.bench.table import markdown


def _sizes(text: str) -> tuple:
    return tuple(int(part) for part in text.split(",") if part.strip())


@click.command()
@click.option("--source", type=click.Path(exists=True, file_okay=False),
              help="Real images to measure on (default: ../shared/data/fruits-360-test beside "
                   "the clone when present, else the bundled sample).")
@click.option("--quick", is_flag=True, help="Small sizes: checks the benchmark works (minutes).")
@click.option("--scale", is_flag=True,
              help="Also run the full size: 67,692 inputs made from the real images.")
@click.option("--images", type=int, help="Images for the in-process run (2000).")
@click.option("--users-images", type=int, help="Images for the users' (slow) patterns.")
@click.option("--ceiling-images", type=int, help="Images for the ceilings without Spark (1000).")
@click.option("--pca-rows", type=int, help="Rows of the synthetic 1280-wide PCA input.")
@click.option("--memory-sizes", help="Comma-separated image counts for peak memory, e.g. 1000,20000.")
@click.option("--reuse-images", type=int,
              help="Images of the --reuse measurement (default: every distinct source image).")
@click.option("--added-images", type=int, help="Images added before the third --reuse run (1000).")
@click.option("--engines", default="onnxruntime", show_default=True,
              help="Engines for the end-to-end runs; the first is the one the targets use.")
@click.option("--weights", default="random", show_default=True,
              help="random, imagenet or a weights file (speed does not depend on the values).")
@click.option("--s3-images", type=int,
              help="Images of the S3 step: local disk, then S3 (moto) through Toxiproxy at 0, 30 "
                   "and 100 ms added (1500).")
@click.option("--steps", default="ceilings,runs,reuse,sample,memory,pca,users,s3", show_default=True,
              help="Which measurements, comma-separated (docs/performance.md says what each is).")
@click.option("--master", default="local[*]", show_default=True, help="Spark master of the measured runs.")
@click.option("--out", "out_dir", default="bench/results", show_default=True,
              type=click.Path(file_okay=False), help="Where latest.json and latest.md go.")
@click.option("--workdir", type=click.Path(file_okay=False),
              help="Scratch folder for replicated images and outputs (default: a temporary one, removed).")
def main(source: Optional[str], quick: bool, scale: bool, images: Optional[int],
         users_images: Optional[int], ceiling_images: Optional[int], pca_rows: Optional[int], memory_sizes: Optional[str],
         reuse_images: Optional[int], added_images: Optional[int], s3_images: Optional[int],
         engines: str, weights: str,
         steps: str, master: str, out_dir: str, workdir: Optional[str]) -> None:
    """Benchmark on real images: ceilings, runs, --reuse, start-up, memory, PCA, reads from S3,
    full size."""
    from bigfruits.bench.inputs import choose_source
    from bigfruits.locations import BUNDLED_SAMPLE
    from bigfruits.pipeline.session import get_session

    scratch = workdir or default_workdir()
    folder, kind = choose_source(source, str(BUNDLED_SAMPLE))
    settings = (BenchSettings.quick if quick else BenchSettings)(folder, scratch, kind)
    settings.master = master
    for name, value in (("images", images), ("users_images", users_images),
                        ("ceiling_images", ceiling_images), ("pca_rows", pca_rows),
                        ("reuse_images", reuse_images), ("added_images", added_images),
                        ("s3_images", s3_images)):
        if value is not None:
            setattr(settings, name, value)
    if memory_sizes:
        settings.memory_sizes = _sizes(memory_sizes)
    settings.engines = tuple(e.strip() for e in engines.split(",") if e.strip())
    settings.steps = tuple(s.strip() for s in steps.split(",") if s.strip())
    settings.weights, settings.scale = weights, scale
    try:
        results = measure(settings, get_session(master))
    finally:
        if workdir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    report = markdown(results)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "latest.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2, default=str)
    with open(os.path.join(out_dir, "latest.md"), "w", encoding="utf-8") as handle:
        handle.write(report)
    click.echo(report)
    click.echo(f"written: {out_dir}/latest.json, {out_dir}/latest.md")


if __name__ == "__main__":
    main()
