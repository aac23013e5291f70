"""The moto server, with one correction: a bucket policy's statements that apply only to
requests *without* TLS are left out when moto checks a request, because this server answers
HTTPS only (the tests start it with a certificate).

Why: our buckets carry AWS's TLS-only policy, a Deny on ``s3:*`` for ``"Principal": "*"`` under
``{"Bool": {"aws:SecureTransport": "false"}}``
(https://repost.aws/knowledge-center/s3-bucket-policy-for-config-rule). moto
stores bucket policies and enforces their ``"Principal": "*"`` statements on object requests,
but it does not evaluate conditions (its ``put_bucket_policy`` docstring says so): unpatched,
that Deny refuses every request. With this, the policy is put as sent, kept in moto's state
(``GetBucketPolicy`` returns it), and every other statement is still enforced as moto does:
a test can check the policy was sent, and the policy can still say no.

Run as ``python moto_tls_server.py <moto.server's arguments>``.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Dict

INSECURE_TRANSPORT_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


def applies_over_tls(statement: Dict[str, Any]) -> bool:
    """False for a statement that only concerns requests made without TLS."""
    return statement.get("Condition") != INSECURE_TRANSPORT_ONLY


def patch_moto() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(bucket: Any, action: str, resource: str) -> Any:
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(bucket.policy)
        statements = policy.get("Statement", [])
        statements = [s for s in (statements if isinstance(statements, list) else [statements])
                      if applies_over_tls(s)]
        if not statements:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**policy, "Statement": statements})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


if __name__ == "__main__":
    patch_moto()
    from moto.server import main

    main(sys.argv[1:])
