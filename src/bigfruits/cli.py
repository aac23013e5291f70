"""The ``bigfruits`` command: parses arguments, delegates to the package, and turns known
errors into one line on stderr with a non-zero exit (never a traceback for a user mistake).

``run``, ``fetch-weights`` and ``notebooks`` are defined here; ``aws`` and ``bench`` live with their code and
are imported only when invoked, so ``bigfruits --help`` and ``bigfruits run`` load neither the
AWS commands nor the benchmark's tools."""
from __future__ import annotations

import importlib
import sys
from typing import Dict, List, Optional, Tuple

import click

from bigfruits import __version__
from bigfruits.errors import BigfruitsError, EnvironmentProblem


#: name -> ("module:attribute" of the click command, its help as the command's docstring
#: starts, which ``bigfruits --help`` shortens without importing the module, the extra that
#: brings what it imports beyond bigfruits' own dependencies, or "")
LAZY_COMMANDS: Dict[str, Tuple[str, str, str]] = {
    "aws": ("bigfruits.aws.cli:aws",
            "Run the pipeline on AWS EMR: bucket, dataset, cluster (JupyterHub, EMR Studio), steps, "
            "teardown.", ""),
    "bench": ("bigfruits.bench.__main__:main",
              "Benchmark on real images: ceilings, runs, --reuse, start-up, memory, PCA, reads from S3, "
              "full size.", "bench"),
}


class LazyGroup(click.Group):
    """click's lazy-loading group: ``LAZY_COMMANDS`` are listed by name and imported in
    ``get_command``, i.e. only when one of them is invoked (or asked for its own help)."""

    def list_commands(self, ctx: click.Context) -> List[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        target, _, extra = LAZY_COMMANDS[cmd_name]
        module, _, attribute = target.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except ModuleNotFoundError as exc:
            if not extra or (exc.name or "").startswith("bigfruits"):
                raise
            raise EnvironmentProblem(f"`bigfruits {cmd_name}` needs {exc.name}, which is not installed",
                                     f"pip install 'bigfruits[{extra}]'") from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, with each lazy command stood in for by its help text."""
        listed = click.Group(commands={**self.commands, **{
            name: click.Command(name, help=text) for name, (_, text, _) in LAZY_COMMANDS.items()}})
        click.Group.format_commands(listed, ctx, formatter)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bigfruits")
def cli() -> None:
    """Fruit photos -> MobileNetV2 features on Spark -> distributed PCA, locally or on AWS EMR."""


def _parse_conf(pairs: "tuple[str, ...]") -> "dict[str, str]":
    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--conf")
        conf[key.strip()] = value
    return conf


@cli.command("run")
@click.option("--input", "input_uri", metavar="PATH|s3://…",
              help="Folder of images (<split>/<class>/<image>.jpg), local or s3:// / s3a://. "
                   "Default: the bundled sample.")
@click.option("--output", default="output", show_default=True, metavar="PATH|s3://…",
              help="Where results are published (local or S3).")
@click.option("--k", type=int, default=None, help="Number of PCA components [default: 50].")
@click.option("--variance", type=float, default=None,
              help="Instead of --k: the smallest k keeping this share of variance, e.g. 0.95.")
@click.option("--weights", default="imagenet", show_default=True, metavar="imagenet|random|PATH",
              help="MobileNetV2 weights: Keras' ImageNet download, a seeded random model "
                   "(not meaningful, for tests), or a Keras weights file.")
@click.option("--engine", type=click.Choice(["auto", "onnxruntime", "tensorflow"]), default="auto",
              show_default=True, help="Inference engine (auto: ONNX Runtime when installed).")
@click.option("--classes", metavar="GLOB[,GLOB…]", help="Only these classes, e.g. 'Apple*'.")
@click.option("--limit", type=int, help="At most N images, spread evenly over the classes.")
@click.option("--master", default="local[*]", show_default=True,
              help="Spark master URL (ignored under spark-submit, which sets its own).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("--reuse", metavar="PATH|s3://…",
              help="A previous run's output: unchanged images (same path, size, modification "
                   "time or ETag, same model) take their features from there.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --weights random.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Images per inference call.")
@click.option("--conf", "conf", multiple=True, metavar="KEY=VALUE",
              help="Extra Spark configuration (repeatable), e.g. spark.driver.memory=4g.")
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
@click.option("--model", metavar="PATH|s3://…",
              help="A published model folder (model.onnx + model.json, as create-cluster, run and "
                   "submit upload it): run it with ONNX Runtime instead of --weights (no TensorFlow).")
def run_command(input_uri: "str | None", output: str, k: "int | None", variance: "float | None",
                weights: str, engine: str, classes: "str | None", limit: "int | None", master: str,
                overwrite: bool, reuse: "str | None", seed: int, batch_size: int,
                conf: "tuple[str, ...]", no_progress: bool, model: "str | None") -> None:
    """Featurize images with MobileNetV2 on Spark, reduce them with PCA, write the results."""
    from bigfruits.pipeline.config import RunConfig
    from bigfruits.pipeline.run import run_pipeline

    config = RunConfig(input=input_uri, output=output, k=k, variance=variance, weights=weights,
                       engine=engine, classes=classes, limit=limit, master=master,
                       overwrite=overwrite, reuse=reuse, seed=seed, batch_size=batch_size,
                       progress=not no_progress, spark_conf=_parse_conf(conf), model=model)
    result = run_pipeline(config)
    m = result.manifest
    click.echo(f"{m['images_ok']} of {m['images_total']} images featurized "
               f"({m['images_failed']} failed, see errors/), k={m['k']} keeps "
               f"{m['variance_kept']:.1%} of the variance, {m['images_per_s']:.1f} images/s.")
    if reuse is not None:
        click.echo(f"reuse: {m['reused']} images reused, {m['featurized']} featurized, "
                   f"{m['dropped']} of the previous output's dropped.")
    if not m["features_meaningful"]:
        click.echo("warning: RANDOM weights: these features are not meaningful (test run).", err=True)
    click.echo(f"results: {result.output}  (open report.html)")


@cli.command("fetch-weights")
def fetch_weights_command() -> None:
    """Download MobileNetV2's ImageNet weights into Keras' cache (~/.keras/models) and export
    their ONNX graph into bigfruits' cache, so later runs (offline ones too) and the cloud
    commands find both; one line when there is no internet."""
    from bigfruits.pipeline.featurize.engines import prepare, resolve_engine
    from bigfruits.pipeline.featurize.model import download_imagenet_weights

    download_imagenet_weights()
    prepared = prepare(resolve_engine("auto"), "imagenet")
    click.echo(f"ImageNet weights ready (sha256 of tensors {prepared.weights.sha256[:16]}…)")


@cli.command("notebooks")
@click.argument("dest", required=False, default=".", type=click.Path(file_okay=False))
def notebooks_command(dest: str) -> None:
    """Copy the two notebooks (JupyterHub, EMR Studio) into DEST [.]: what create-cluster places
    for JupyterHub, and what you upload into an EMR Studio Workspace."""
    import shutil
    from pathlib import Path

    from bigfruits.locations import NOTEBOOKS_DIR

    Path(dest).mkdir(parents=True, exist_ok=True)
    for notebook in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        shutil.copyfile(notebook, Path(dest) / notebook.name)
        click.echo(str(Path(dest) / notebook.name))


def main(argv: "list[str] | None" = None) -> int:
    """Entry point: run the CLI, print a ``BigfruitsError`` as one line, exit 2 (or 1)."""
    try:
        cli.main(args=argv, prog_name="bigfruits", standalone_mode=False)
    except BigfruitsError as exc:
        click.echo(f"bigfruits: error: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("bigfruits: aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("bigfruits: interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
