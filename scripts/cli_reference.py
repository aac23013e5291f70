"""Write docs/cli.md, every command and option of ``bigfruits`` as its own --help says them, or
check that it is up to date (the help texts are the one source; this page only gathers them).

    python scripts/cli_reference.py          # write docs/cli.md
    python scripts/cli_reference.py --check  # exit 1 if docs/cli.md differs from the CLI
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterator, List

import click

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "cli.md"

HEADER = """# Command-line reference

Every `bigfruits` command and option, as the commands' own `--help` describe them (this page
is generated from them by `python scripts/cli_reference.py`; a test keeps it up to date).
The `aws` options marked *global* go before or after the command's name.
"""


def _commands(group: click.Group, ctx: click.Context, path: List[str]) -> Iterator[tuple]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        here = [*path, name]
        yield here, command
        if isinstance(command, click.Group):
            sub = click.Context(command, info_name=name, parent=ctx)
            yield from _commands(command, sub, here)


def _option_rows(command: click.Command, ctx: click.Context) -> List[str]:
    from bigfruits.aws.cli import GLOBAL_PREFIX

    rows = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            if isinstance(param, click.Argument):
                rows.append(f"| `{param.human_readable_name}` | argument |")
            continue
        flags, text = record
        if (param.name or "").startswith(GLOBAL_PREFIX) or "--help" in getattr(param, "opts", ()):
            continue  # a global option is listed once, with the aws group; --help goes without saying
        text = text or ("argument: see above" if isinstance(param, click.Argument) else "")
        rows.append(f"| `{flags.replace('|', '&#124;')}` | {' '.join(text.split()).replace('|', '&#124;')} |")
    return rows


def render() -> str:
    from bigfruits.cli import cli

    root = click.Context(cli, info_name="bigfruits")
    parts = [HEADER]
    for path, command in _commands(cli, root, ["bigfruits"]):
        ctx = click.Context(command, info_name=path[-1], parent=root)
        parts.append(f"\n## `{' '.join(path)}`\n\n{' '.join((command.help or '').split())}\n")
        rows = _option_rows(command, ctx)
        if path == ["bigfruits", "aws"]:
            rows = [row.replace("| `--", "| *global* `--", 1) for row in rows]
        if rows:
            parts.append("\n| option | meaning |\n|---|---|\n" + "\n".join(rows) + "\n")
    return "".join(parts)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print("docs/cli.md is out of date: run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
