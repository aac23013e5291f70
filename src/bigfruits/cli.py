"""The ``bigfruits`` command: parses arguments, delegates to the package, and turns known
errors into one line on stderr with a non-zero exit (never a traceback for a user mistake)."""
from __future__ import annotations

import sys

import click

from bigfruits import __version__
from bigfruits.errors import BigfruitsError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bigfruits")
def cli() -> None:
    """Fruit photos -> MobileNetV2 features on Spark -> distributed PCA, locally or on AWS EMR."""


def _register_subcommands() -> None:
    """Attach the command groups that live next to their code (one module per area)."""
    try:
        from bigfruits.aws.cli import aws
    except ImportError:  # the AWS area is optional while it is being built
        return
    cli.add_command(aws)


_register_subcommands()


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
