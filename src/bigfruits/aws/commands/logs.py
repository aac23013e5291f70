"""``logs``: the end of a step's log (stderr, stdout or controller), from S3."""
from __future__ import annotations

from typing import Optional

from bigfruits.aws.core import state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.our_clusters import current_cluster
from bigfruits.aws.procedures.step_watch import LOG_TAIL_LINES, step_log_tail
from bigfruits.errors import InputError


def logs(ctx: AwsContext, step_id: Optional[str] = None, stream: str = "stderr",
         cluster_id: Optional[str] = None, lines: int = LOG_TAIL_LINES) -> str:
    """``step_id``'s log, else the last submitted step's; printed and returned."""
    found = current_cluster(ctx, cluster_id)
    step = step_id or ctx.state.get(state.LAST_STEP)
    if not step:
        raise InputError("no step yet", "run `bigfruits aws submit` or pass --step-id")
    text = step_log_tail(ctx, found, str(step), stream, lines)
    ctx.echo(text)
    return text
