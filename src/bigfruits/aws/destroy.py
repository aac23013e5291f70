"""``destroy``: remove every resource of ours, kind by kind in dependency order, found from
the state file *and* from tags, and say what was removed."""
from __future__ import annotations

from typing import List, Tuple

from bigfruits.aws import kinds as _kinds  # noqa: F401 - registers this area's kinds
from bigfruits.aws.context import AwsContext
from bigfruits.aws.resources import kinds_in_destroy_order


def destroy(ctx: AwsContext, yes: bool = False) -> List[Tuple[str, str]]:
    """Returns (kind, id) of everything removed; the bucket only after confirmation."""
    removed: List[Tuple[str, str]] = []
    for kind in kinds_in_destroy_order():
        ids = sorted(set(ctx.state.ids(kind.name)) | set(kind.discover(ctx)))
        for resource_id in ids:
            if kind.needs_confirmation and not yes and not ctx.dry_run:
                if not ctx.confirm(f"Delete {kind.name} {resource_id} and everything in it?"):
                    ctx.echo(f"kept {kind.name} {resource_id}")
                    continue
            kind.remove(ctx, resource_id)
            ctx.state.remove(kind.name, resource_id)
            ctx.echo(f"removed {kind.name} {resource_id}")
            removed.append((kind.name, resource_id))
    if not removed:
        ctx.echo("nothing of ours left to remove")
    return removed
