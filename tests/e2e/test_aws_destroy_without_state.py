"""``destroy`` finds our resources from tags when the state file is lost (moto server), asks
before deleting the bucket, and leaves other people's resources alone."""
from __future__ import annotations


import pytest

from tests.support.aws.cli import built_wheel, injected, run
from tests.support.aws.server import aws_env, boto, moto_tls, moto_url, nothing_of_ours_left

__all__ = ["aws_env", "built_wheel", "moto_tls", "moto_url"]


@pytest.mark.slow
def test_destroy_from_tags_after_state_loss(aws_env, built_wheel) -> None:
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--no-model", "--wheel", str(built_wheel)])  # a bare cluster: no notebooks here
    boto("ec2").create_key_pair(KeyName="not-ours")
    for state in (aws_env["tmp"] / "state").glob("*.json"):
        state.unlink()

    out = run(["destroy"], injected(answers=[False])).output  # keep the bucket this time
    assert "kept bucket" in out and "removed cluster" in out and "removed security-group" in out
    assert boto("s3").list_buckets()["Buckets"]

    out = run(["destroy"], injected(answers=[True])).output
    assert "removed bucket" in out
    left = nothing_of_ours_left()
    assert left.pop("key_pairs") == ["not-ours"]
    assert left == {k: [] for k in left}, left
