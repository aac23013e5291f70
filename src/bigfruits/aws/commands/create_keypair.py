"""``create-keypair``: the EC2 key pair for SSH to the master, its private key kept here with
mode 0600 (idempotent; ``create-cluster`` makes it too when missing)."""
from __future__ import annotations

from pathlib import Path

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.ssh_access import ensure_key_pair


def create_keypair(ctx: AwsContext) -> Path:
    """The private key's path."""
    return ensure_key_pair(ctx)
