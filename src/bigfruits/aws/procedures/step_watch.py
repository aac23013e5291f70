"""A step's life after it is added, for ``submit``, ``run``, ``logs`` and ``create-cluster``'s
password step: where the pipeline step reads and writes, waiting for a step to end, and what
to show when it did not complete (EMR's reason, then the end of its stderr from S3)."""
from __future__ import annotations

import gzip
from typing import Any, Dict, Optional, Tuple

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.waiting import wait_for
from bigfruits.aws.requests import s3
from bigfruits.aws.requests.emr import steps

STEP_TIMEOUT_S = 3 * 60 * 60
LOG_TAIL_LINES = 30


def step_locations(ctx: AwsContext, bucket: str, input_uri: Optional[str],
                   output_uri: Optional[str]) -> Tuple[str, str]:
    """The step's input (default: the uploaded images) and output (default: a new folder per
    run), both checked usable on our clusters before anything is sent."""
    return (s3.cluster_location(input_uri or s3.s3_uri(bucket, s3.RAW_PREFIX), bucket, "--input"),
            s3.cluster_location(output_uri or s3.s3_uri(bucket, s3.run_output_key(ctx.injected.run_id())),
                                bucket, "--output"))


def step_named(ctx: AwsContext, cluster_id: str, name: str) -> Optional[str]:
    """The id of the cluster's step called ``name`` (None if it has none)."""
    found = [x for x in ctx.send(steps.list_steps(cluster_id)).get("Steps", []) if x.get("Name") == name]
    return str(found[0]["Id"]) if found else None


def wait_for_step(ctx: AwsContext, cluster_id: str, step_id: str, timeout_s: float) -> Dict[str, Any]:
    """Poll a step until it ends (COMPLETED, FAILED, ...); its last DescribeStep answer."""
    return wait_for(
        lambda: ctx.send(steps.describe_step(cluster_id, step_id)),
        lambda a: str(a["Step"]["Status"]["State"]), steps.STEP_DONE_STATES, f"step {step_id}",
        timeout_s, ctx.injected.poll_interval_s, ctx.injected.sleep, ctx.injected.clock, ctx.echo,
    )


def show_step_failure(ctx: AwsContext, cluster_id: str, step_id: str, status: Dict[str, Any]) -> None:
    """EMR's FailureDetails of a step that did not complete, then the end of its stderr."""
    details = status.get("FailureDetails", {})
    ctx.echo(f"step {step_id} {status['State']}: {details.get('Reason', '')} {details.get('Message', '')}".rstrip())
    if details.get("LogFile"):
        ctx.echo(f"  log: {details['LogFile']}")
    ctx.echo(step_log_tail(ctx, cluster_id, step_id))


def step_log_tail(ctx: AwsContext, cluster_id: str, step_id: str, stream: str = "stderr",
                  lines: int = LOG_TAIL_LINES) -> str:
    """The end of a step's log from S3 (EMR copies it there a few minutes after the step)."""
    return s3_log_tail(ctx, steps.step_log_key(cluster_id, step_id, stream), stream, lines,
                       "EMR uploads logs every few minutes; try `bigfruits aws logs` later")


def s3_log_tail(ctx: AwsContext, key: str, stream: str, lines: int, later: str) -> str:
    """The end of a (gzip) log in our bucket, with the driver's one-line errors; ``later``
    says what to do when it is not there yet."""
    answer = ctx.sender.attempt(s3.get_object(ctx.bucket(), key), "NoSuchKey", "404")
    if not answer or "Body" not in answer:
        return f"  (no {stream} in s3://{ctx.bucket()}/{key} yet: {later})"
    raw = answer["Body"].read()
    try:
        text = gzip.decompress(raw).decode("utf-8", "replace")
    except OSError:
        text = raw.decode("utf-8", "replace")
    all_lines = text.rstrip().splitlines()
    tail = all_lines[-lines:]
    # The driver's one-line error can sit above the JVM's last log lines (two writers, one file).
    tail += [line for line in all_lines[:-lines] if line.startswith("bigfruits: error:")]
    return "\n".join(f"  | {line}" for line in tail)
