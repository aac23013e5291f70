"""Launching a cluster, for ``create-cluster`` and ``run`` alike: what the nodes install placed
in the bucket, RunJobFlow sent (retried while IAM propagates new roles), then the wait until
the cluster is ready. Choosing its network and roles first is ``cluster_network`` and
``cluster_roles``; what runs on it is the caller's (flavor, steps)."""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.waiting import wait_for
from bigfruits.aws.procedures.bucket_files import place_file
from bigfruits.aws.procedures import node_files, wheel as cluster_wheels
from bigfruits.aws.requests import s3
from bigfruits.aws.requests.emr import clusters
from bigfruits.errors import AwsError, InputError
from bigfruits.locations import NODE_DIR

#: IAM is eventually consistent, sometimes for a while: RunJobFlow is retried with these waits
#: (2 minutes in all) while EMR answers that it cannot use the instance profile or the service
#: role yet.
IAM_RETRY_DELAYS_S = (5.0, 10.0, 20.0, 40.0, 45.0)
IAM_NOT_YET = re.compile(r"instance ?profile|service ?role|jobflowrole|job flow role", re.IGNORECASE)
START_TIMEOUT_S = 40 * 60


def prepare_node_files(ctx: AwsContext, wheel: Optional[Path]) -> Path:
    """Before any request: the wheel the nodes install (``--wheel``, else this bigfruits' own:
    see ``wheel``) and its wheelhouse, built here or found in the cache, so that a failure to
    make them sends nothing (a dry run makes them too). The wheel's path."""
    wheel = wheel or cluster_wheels.cluster_wheel()
    if wheel.name != clusters.wheel_name():
        raise InputError(f"wheel {wheel.name} is not {clusters.wheel_name()}",
                         "pass the wheel of this version of bigfruits")
    node_files.build_wheelhouse(wheel, echo=ctx.echo)
    return wheel


def upload_bootstrap(ctx: AwsContext, wheel: Path) -> str:
    """The bootstrap script and constraints, and the wheelhouse of ``wheel`` (made by
    ``prepare_node_files``), uploaded when missing; the wheelhouse's s3:// URI."""
    for name in (clusters.BOOTSTRAP_SCRIPT, clusters.CONSTRAINTS_FILE):
        place_file(ctx, NODE_DIR / name, s3.BOOTSTRAP_PREFIX + name)
    return node_files.upload_wheelhouse(ctx, wheel)


def iam_not_visible_yet(exc: AwsError) -> bool:
    """EMR's ValidationException about a role or instance profile created moments ago; IAM
    propagates changes within seconds to minutes, so these are worth retrying (and only these)."""
    return exc.code == "ValidationException" and bool(IAM_NOT_YET.search(exc.message or str(exc)))


def start_cluster(ctx: AwsContext, request: AwsRequest) -> str:
    """RunJobFlow, retried with backoff while IAM has not propagated our new roles yet."""
    answer = ctx.sender.send_retrying(request, iam_not_visible_yet, IAM_RETRY_DELAYS_S,
                                      ctx.injected.sleep)
    return str(answer["JobFlowId"])


def wait_until_ready(ctx: AwsContext, cluster_id: str, timeout_s: float = START_TIMEOUT_S) -> Dict[str, Any]:
    """Until the cluster is WAITING or RUNNING; a cluster that ended instead raises, with EMR's
    reason."""
    answer = wait_for(
        lambda: ctx.send(clusters.describe_cluster(cluster_id)), clusters.cluster_state,
        clusters.READY_STATES + clusters.FAILED_STATES, f"cluster {cluster_id}", timeout_s,
        ctx.injected.poll_interval_s, ctx.injected.sleep, ctx.injected.clock, ctx.echo,
    )
    status = answer["Cluster"]["Status"]
    if status["State"] in clusters.FAILED_STATES:
        reason = status.get("StateChangeReason", {})
        raise AwsError(
            f"cluster {cluster_id} {status['State']}: {reason.get('Code', '?')} {reason.get('Message', '')}".strip(),
            "fix the cause above (quota, roles, bootstrap log in s3://<bucket>/logs/) and create it again",
        )
    ctx.echo(f"cluster {cluster_id} ready; master {answer['Cluster'].get('MasterPublicDnsName', '?')}")
    return answer


@contextmanager
def terminated_on_failure(ctx: AwsContext, cluster_id: str, on_interrupt: str, on_failure: str,
                          cleanup: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Around the waiting after RunJobFlow: Ctrl-C only stops the waiting (``on_interrupt`` says
    what the cluster does next); any other failure terminates the cluster, then ``cleanup``."""
    try:
        yield
    except KeyboardInterrupt:
        ctx.echo(on_interrupt)
        raise
    except BaseException:
        ctx.echo(on_failure)
        ctx.sender.attempt(clusters.terminate([cluster_id]))
        cleanup()
        raise
