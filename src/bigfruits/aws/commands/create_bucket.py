"""``create-bucket``: a private, encrypted, TLS-only bucket with our layout (idempotent)."""
from __future__ import annotations

from typing import Optional

from bigfruits.aws.core import kinds, state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.bucket_files import bucket_is_ours
from bigfruits.aws.requests import s3
from bigfruits.errors import AwsError


def create_bucket(ctx: AwsContext, name: Optional[str] = None) -> str:
    """Idempotent: our bucket already there is fine; a bucket that is not ours is an error."""
    name = name or ctx.bucket()
    existing = [x["Name"] for x in ctx.send(s3.list_buckets()).get("Buckets", [])]
    if name in existing:
        if not bucket_is_ours(ctx, name):
            raise AwsError(
                f"bucket {name} exists in your account but was not created by bigfruits",
                "pass another --bucket, or tag it bigfruits:managed=true and bigfruits:project",
            )
        ctx.echo(f"bucket s3://{name} already exists (ours): securing it again")
    else:
        try:
            ctx.send(s3.create_bucket(name, ctx.region))
        except AwsError as exc:
            if exc.code == "BucketAlreadyExists":
                raise AwsError(
                    f"bucket name {name} is taken by another AWS account",
                    "bucket names are global: pass another --bucket",
                ) from exc
            if exc.code != "BucketAlreadyOwnedByYou":
                raise
    for request in s3.secure_bucket(name, ctx.settings.project):
        ctx.send(request)
    ctx.state.add(kinds.BUCKET, name, region=ctx.region)
    ctx.state.set(state.CURRENT_BUCKET, name)
    ctx.echo(f"bucket s3://{name} ready (private, encrypted, TLS only; EMR logs expire after "
             f"{s3.LOGS_DAYS} days, wheelhouses after {s3.WHEELHOUSE_DAYS}, failed uploads after "
             f"{s3.FAILED_UPLOAD_DAYS})")
    return name
