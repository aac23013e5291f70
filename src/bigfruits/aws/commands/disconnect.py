"""``disconnect``: close the background SSH tunnel ``connect`` opened."""
from __future__ import annotations

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.ssh_access import stop_tunnel


def disconnect(ctx: AwsContext) -> bool:
    """True if a tunnel was running."""
    return stop_tunnel(ctx)
