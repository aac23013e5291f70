"""A failed step's log tail keeps the driver's one-line error even when the JVM's log lines
(written to the same stderr) come after it, as in a real spark-submit step."""
from __future__ import annotations

from tests.support.aws.cli import run
from tests.support.aws.server import BUCKET, put_gz


def test_the_drivers_error_line_is_shown_below_the_jvm_chatter(aws_env) -> None:
    run(["create-bucket"])
    jvm = [f"26/11/27 14:51:{i:02d} INFO BlockManager: line {i}" for i in range(40)]
    log = "\n".join(["bigfruits: error: output already exists: s3://b/output: pass --overwrite", *jvm])
    put_gz(BUCKET, "logs/j-1/steps/s-1/stderr.gz", log + "\n")
    out = run(["logs", "--cluster-id", "j-1", "--step-id", "s-1", "--lines", "5"]).output
    assert "| bigfruits: error: output already exists" in out
    assert "line 39" in out and "line 30" not in out
