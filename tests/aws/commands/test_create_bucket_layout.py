"""create-bucket's folder markers leave output/ to the pipeline: an object there made the output
exist, so the first `submit` failed with "output already exists" (found by tests/e2e/test_node.py)."""
from __future__ import annotations

from tests.support.aws.cli import run
from tests.support.aws.server import BUCKET, boto


def test_create_bucket_puts_nothing_under_the_output_prefix(aws_env) -> None:
    run(["create-bucket"])
    keys = [o["Key"] for o in boto("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert "raw/" in keys
    assert not [key for key in keys if key.startswith("output")], keys
