"""Cluster commands: create-cluster (with the IAM roles it needs), status, submit, logs,
terminate (around ``requests/emr``: they decide, send, wait, remember)."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import secrets
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bigfruits.aws.commands import access, network
from bigfruits.aws.commands.node_files import step_model_args, upload_model, upload_wheelhouse
from bigfruits.aws.commands.pricing import cost_line
from bigfruits.aws.commands.storage import place_file
from bigfruits.aws.commands.wheel import build_wheel
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.tags import is_ours
from bigfruits.aws.core.waiting import wait_for
from bigfruits.aws.requests import iam
from bigfruits.aws.requests import s3 as b
from bigfruits.aws.requests.emr import clusters as c
from bigfruits.aws.requests.emr import steps as s
from bigfruits.aws.requests.emr.flavors import JUPYTER_PERSISTENCE_PREFIX, Flavor, get_flavor
from bigfruits.errors import AwsError, EnvironmentProblem, InputError
from bigfruits.locations import NODE_DIR, project_root

CLUSTER_KIND = "cluster"
ROLE_KIND = "iam-role"
INSTANCE_PROFILE_KIND = "instance-profile"
#: IAM is eventually consistent: EMR may not see a brand-new instance profile for a few seconds.
IAM_PROPAGATION_S = 10.0
#: ... and sometimes for longer: RunJobFlow is retried with these waits (2 minutes in all) while
#: EMR answers that it cannot use the instance profile or the service role yet.
IAM_RETRY_DELAYS_S = (5.0, 10.0, 20.0, 40.0, 45.0)
_IAM_NOT_YET = re.compile(r"instance ?profile|service ?role|jobflowrole|job flow role", re.IGNORECASE)
#: What runs on every node: installed by the bootstrap action (see ``requests/emr/clusters``).
NOTEBOOK_NAME = "bigfruits-jupyterhub.ipynb"
START_TIMEOUT_S = 40 * 60
STEP_TIMEOUT_S = 3 * 60 * 60
TERMINATE_TIMEOUT_S = 20 * 60
LOG_TAIL_LINES = 30


def notebook_path() -> Optional[Path]:
    """``notebooks/bigfruits-jupyterhub.ipynb`` of the checkout (None when installed)."""
    root = project_root()
    if root is None or not (root / "notebooks" / NOTEBOOK_NAME).is_file():
        return None
    return root / "notebooks" / NOTEBOOK_NAME


def upload_bootstrap(ctx: AwsContext, wheel: Optional[Path]) -> str:
    """The bootstrap script and constraints, and the wheelhouse of our wheel (see
    ``node_files``: uploaded when missing); the wheelhouse's s3:// URI."""
    for name in (c.BOOTSTRAP_SCRIPT, c.CONSTRAINTS_FILE):
        place_file(ctx, NODE_DIR / name, b.BOOTSTRAP_PREFIX + name)
    if ctx.dry_run and wheel is None:
        wheel = Path("the wheel built from this checkout")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = wheel or build_wheel(Path(tmp))
        if wheel.name != c.wheel_name() and not ctx.dry_run:
            raise InputError(f"wheel {wheel.name} is not {c.wheel_name()}", "pass the wheel of this version")
        return upload_wheelhouse(ctx, wheel)


def _place_model(ctx: AwsContext) -> Optional[str]:
    """The notebooks' model (ImageNet weights) in the bucket, when this machine has it; else
    one line saying how (the cluster starts anyway: submit uploads the model it runs)."""
    try:
        uri = upload_model(ctx)
    except EnvironmentProblem as problem:
        ctx.echo(f"note: {problem} (the notebooks need it; submit uploads the model it runs)")
        return None
    ctx.echo(f"the notebooks run the model at {uri} (their `model` parameter)")
    return uri


def with_model(notebook: Optional[Path], model_uri: str, into: Path) -> Optional[Path]:
    """A copy of ``notebook`` in ``into`` whose parameters cell says ``model = "<model_uri>"``
    (the committed notebook says ``model = None``)."""
    if notebook is None or not notebook.is_file():
        return notebook
    text = notebook.read_text()
    line = json.dumps("model = None")[1:-1]
    if line not in text:
        return notebook
    copy = into / notebook.name
    copy.write_text(text.replace(line, json.dumps(f"model = {model_uri!r}")[1:-1], 1))
    return copy


def _place_notebook(ctx: AwsContext, flavor: Flavor, notebook: Optional[Path]) -> None:
    if not flavor.places_notebook:
        return
    if notebook is None or not notebook.is_file():
        ctx.echo(f"note: notebooks/{NOTEBOOK_NAME} not found: JupyterHub starts without our notebook")
        return
    uri = place_file(ctx, notebook, JUPYTER_PERSISTENCE_PREFIX + NOTEBOOK_NAME)
    ctx.echo(f"notebook placed at {uri} (JupyterHub's S3 persistence folder)")


def create_cluster(
    ctx: AwsContext,
    flavor_name: str = "jupyterhub",
    yes: bool = False,
    wheel: Optional[Path] = None,
    notebook: Optional[Path] = None,
    wait: bool = True,
) -> str:
    """Everything the cluster needs, then RunJobFlow; after that any failure terminates it."""
    flavor = get_flavor(flavor_name)
    ctx = _in_cluster_subnet(ctx, flavor)
    settings = ctx.settings
    ctx.echo(f"cluster {settings.project}-{flavor.name}: {flavor.description}")
    ctx.echo(f"  {settings.release}, 1 x {settings.master_type} + {settings.core_count} x {settings.core_type}; "
             f"auto-terminates after {settings.idle_timeout_s // 60} min idle")
    ctx.echo(f"  cost: {cost_line(ctx, c.instance_counts(settings))}")
    if not (yes or ctx.dry_run) and not ctx.confirm("Create this cluster?"):
        raise InputError("cluster not created", "re-run and confirm, or pass --yes")
    ctx, vpc_id = in_cluster_network(ctx)  # first: a wrong --subnet-id creates nothing
    group_id = access.prepare_access(ctx, vpc_id)
    ensure_roles(ctx)
    wheelhouse = upload_bootstrap(ctx, wheel)
    model = _place_model(ctx)
    with tempfile.TemporaryDirectory(prefix="bigfruits-notebook-") as tmp:
        notebook = notebook if notebook is not None else notebook_path()
        _place_notebook(ctx, flavor, with_model(notebook, model, Path(tmp)) if model else notebook)
    password, password_key, password_uri = None, None, None
    if flavor.sets_jupyterhub_password:
        password = "<random-password>" if ctx.dry_run else secrets.token_urlsafe(12)
        password_key = b.jupyterhub_password_key(secrets.token_hex(8))
        ctx.send(b.put_jupyterhub_password(ctx.bucket(), password_key, password))
        password_uri = b.s3_uri(ctx.bucket(), password_key)
    request = c.run_job_flow(ctx.settings_with_bucket(), flavor, group_id, password_uri,
                             account_id=ctx.account_id(), wheelhouse_uri=wheelhouse)
    try:
        cluster_id = start_cluster(ctx, request)
    except BaseException:
        _delete_password(ctx, password_key)  # no cluster, no step to use (and delete) it
        raise
    ctx.state.add(CLUSTER_KIND, cluster_id, flavor=flavor.name)
    ctx.state.set("cluster", cluster_id)
    ctx.echo(f"cluster {cluster_id} requested")
    try:
        if wait and not ctx.dry_run:
            wait_until_ready(ctx, cluster_id)
            if password:
                wait_for_password_step(ctx, cluster_id)
    except KeyboardInterrupt:
        ctx.echo(f"stopped waiting; cluster {cluster_id} keeps starting (`bigfruits aws terminate` stops it)")
        raise
    except BaseException:
        ctx.echo(f"cluster {cluster_id} failed after creation: terminating it so it bills nothing")
        ctx.sender.attempt(c.terminate([cluster_id]))
        _delete_password(ctx, password_key)
        raise
    if password and wait and not ctx.dry_run:
        ctx.echo(f"JupyterHub user jovyan, password {password}  (shown once: keep it; "
                 "the cluster deletes its copy once set)")
    elif password:
        ctx.echo(f"JupyterHub user jovyan, password {password}  (shown once: keep it; it works once "
                 f"the step '{s.PASSWORD_STEP_NAME}' is COMPLETED in `bigfruits aws status`; "
                 "if that step fails, EMR terminates the cluster)")
    return cluster_id


def wait_for_password_step(ctx: AwsContext, cluster_id: str) -> None:
    """Until the step that replaces JupyterHub's public default password has COMPLETED; any
    other end raises (the caller terminates the cluster: no default password left reachable)."""
    found = [x for x in ctx.send(s.list_steps(cluster_id)).get("Steps", [])
             if x.get("Name") == s.PASSWORD_STEP_NAME]
    if not found:
        raise AwsError(f"cluster {cluster_id} has no step '{s.PASSWORD_STEP_NAME}'",
                       "its JupyterHub keeps the default password: the cluster is terminated")
    answer = wait_for_step(ctx, cluster_id, str(found[0]["Id"]), START_TIMEOUT_S)
    state = answer["Step"]["Status"]["State"]
    if state != "COMPLETED":
        reason = answer["Step"]["Status"].get("FailureDetails", {}).get("Reason", "")
        raise AwsError(f"the step that sets the JupyterHub password {state}" + (f" ({reason})" if reason else ""),
                       "the cluster is terminated so its default password is never reachable; "
                       "create it again (the bootstrap log is in s3://<bucket>/logs/)")


def iam_not_visible_yet(exc: AwsError) -> bool:
    """EMR's ValidationException about a role or instance profile created moments ago; IAM
    propagates changes within seconds to minutes, so these are worth retrying (and only these)."""
    return exc.code == "ValidationException" and bool(_IAM_NOT_YET.search(exc.message or str(exc)))


def start_cluster(ctx: AwsContext, request: AwsRequest) -> str:
    """RunJobFlow, retried with backoff while IAM has not propagated our new roles yet."""
    answer = ctx.sender.send_with_backoff(request, iam_not_visible_yet, ctx.injected.sleep,
                                          IAM_RETRY_DELAYS_S)
    return str(answer["JobFlowId"])


def _ensure_role(ctx: AwsContext, role_name: str, creation: List[AwsRequest]) -> bool:
    """Create the role (and what follows it) unless it exists; True if created now."""
    exists = ctx.sender.attempt(iam.get_role(role_name), "NoSuchEntity")
    if exists and not ctx.dry_run:
        return False
    for request in creation:
        ctx.sender.attempt(request, "EntityAlreadyExists")
    return True


def ensure_roles(ctx: AwsContext) -> None:
    """The cluster's service role and EC2 instance profile, created once, under our path."""
    project = ctx.settings.project
    created = _ensure_role(ctx, iam.service_role_name(project), iam.create_service_role(project))
    created |= _ensure_role(ctx, iam.ec2_role_name(project), iam.create_ec2_role(project))
    attach_v2, pass_role, detach_v1 = iam.service_role_policies(project, ctx.account_id())
    ctx.send(attach_v2)
    ctx.send(pass_role)
    ctx.sender.attempt(detach_v1, "NoSuchEntity")
    put_policy, detach_old = iam.put_node_policy(project, ctx.bucket())
    ctx.send(put_policy)
    ctx.sender.attempt(detach_old, "NoSuchEntity")
    ctx.state.add(ROLE_KIND, iam.service_role_name(project))
    ctx.state.add(ROLE_KIND, iam.ec2_role_name(project))
    ctx.state.add(INSTANCE_PROFILE_KIND, iam.instance_profile_name(project))
    if created and not ctx.dry_run:
        ctx.echo("IAM roles created; giving IAM a few seconds to propagate")
        ctx.injected.sleep(IAM_PROPAGATION_S)


def _delete_password(ctx: AwsContext, key: Optional[str]) -> None:
    """Remove the JupyterHub password object when no step will (the step deletes it too)."""
    if key:
        ctx.sender.attempt(b.delete_objects(ctx.bucket(), [key]))


def _in_cluster_subnet(ctx: AwsContext, flavor: Flavor) -> AwsContext:
    """The context with the cluster's subnet chosen: --subnet-id (or config) wins; a Studio
    cluster without one starts in the subnet of the Studio we created, whose Workspaces can
    attach only clusters of their own VPC; otherwise EMR picks one in the default VPC."""
    if ctx.settings.subnet_id or not flavor.joins_studio_network:
        return ctx
    for studio_id in ctx.state.ids("studio"):
        attrs = ctx.state.attrs("studio", studio_id)
        subnets = attrs.get("subnets") or []
        if not subnets:
            continue
        # The bootstrap installs Python packages: the subnet must reach the internet.
        for subnet in subnets:
            if network.subnet_reaches_internet(ctx, subnet, str(attrs.get("vpc", ""))):
                ctx.echo(f"  in subnet {subnet}, in the VPC of Studio {studio_id}")
                return replace(ctx, settings=replace(ctx.settings, subnet_id=subnet))
        raise InputError(
            f"none of Studio {studio_id}'s subnets ({', '.join(subnets)}) reaches the internet, "
            "so the bootstrap could not install anything",
            "pass --subnet-id of a subnet routing 0.0.0.0/0 to an internet or NAT gateway")
    return ctx


def in_cluster_network(ctx: AwsContext) -> Tuple[AwsContext, str]:
    """The cluster's subnet chosen (and checked) into the context, and its network tagged for
    EMR's service policy; (that context, the VPC)."""
    vpc_id, subnet_id = network.cluster_network(ctx)
    ctx = replace(ctx, settings=replace(ctx.settings, subnet_id=subnet_id))
    network.tag_for_emr(ctx, vpc_id, subnet_id)
    return ctx, vpc_id


def wait_until_ready(ctx: AwsContext, cluster_id: str, timeout_s: float = START_TIMEOUT_S) -> Dict[str, Any]:
    def state_of(answer: Dict[str, Any]) -> str:
        return str(answer["Cluster"]["Status"]["State"])

    answer = wait_for(
        lambda: ctx.send(c.describe_cluster(cluster_id)), state_of,
        c.READY_STATES + c.FAILED_STATES, f"cluster {cluster_id}", timeout_s,
        ctx.injected.poll_interval_s, ctx.injected.sleep, ctx.injected.clock, ctx.echo,
    )
    status = answer["Cluster"]["Status"]
    if status["State"] in c.FAILED_STATES:
        reason = status.get("StateChangeReason", {})
        raise AwsError(
            f"cluster {cluster_id} {status['State']}: {reason.get('Code', '?')} {reason.get('Message', '')}".strip(),
            "fix the cause above (quota, roles, bootstrap log in s3://<bucket>/logs/) and create it again",
        )
    ctx.echo(f"cluster {cluster_id} ready; master {answer['Cluster'].get('MasterPublicDnsName', '?')}")
    return answer


def current_cluster(ctx: AwsContext, cluster_id: Optional[str] = None) -> str:
    found = cluster_id or ctx.state.get("cluster")
    if not found:
        raise InputError("no cluster", "run `bigfruits aws create-cluster` or pass --cluster-id")
    return str(found)


def our_active_clusters(ctx: AwsContext) -> List[Dict[str, Any]]:
    """Active clusters carrying our tags (DescribeCluster is where EMR returns tags)."""
    ours = []
    for summary in ctx.sender.paged(c.list_active_clusters(), "Clusters"):
        detail = ctx.send(c.describe_cluster(summary["Id"])).get("Cluster", {})
        if is_ours(detail.get("Tags", []), ctx.settings.project):
            ours.append(detail)
    return ours


def _hours_since(created: Any, now: dt.datetime) -> Optional[float]:
    if not isinstance(created, dt.datetime):
        return None
    return max(0.0, (now - created).total_seconds() / 3600)


def group_counts(groups: List[Dict[str, Any]]) -> Dict[str, int]:
    """Instances per type, summed over groups (master and core are both m5.xlarge by default)."""
    counts: Dict[str, int] = {}
    for group in groups:
        kind = str(group["InstanceType"])
        counts[kind] = counts.get(kind, 0) + int(group.get("RequestedInstanceCount", 0))
    return counts


def status(ctx: AwsContext, cluster_id: Optional[str] = None) -> Dict[str, Any]:
    """Print and return the current cluster's state; warn about any other of ours running."""
    now = dt.datetime.now(dt.timezone.utc)
    found = cluster_id or ctx.state.get("cluster")
    info: Dict[str, Any] = {}
    if found:
        cluster = ctx.send(c.describe_cluster(found))["Cluster"]
        hours = _hours_since(cluster["Status"].get("Timeline", {}).get("CreationDateTime"), now)
        counts = group_counts(ctx.send(c.list_instance_groups(found)).get("InstanceGroups", []))
        steps = ctx.send(s.list_steps(found)).get("Steps", [])
        info = {"id": found, "state": cluster["Status"]["State"], "master": cluster.get("MasterPublicDnsName"),
                "applications": [a["Name"] for a in cluster.get("Applications", [])],
                "steps": [(x["Name"], x["Status"]["State"]) for x in steps]}
        ctx.echo(f"cluster {found}: {info['state']}" + (f", up {hours:.1f} h" if hours is not None else ""))
        ctx.echo(f"  master: {info['master'] or '-'}")
        ctx.echo(f"  applications: {', '.join(info['applications']) or '-'}")
        for name, state in info["steps"]:
            ctx.echo(f"  step {name}: {state}")
        if info["state"] not in c.FAILED_STATES:
            ctx.echo(f"  cost: {cost_line(ctx, counts, hours)}")
    else:
        ctx.echo("no current cluster")
    others = [x["Id"] for x in our_active_clusters(ctx) if x.get("Id") != found]
    if others:
        ctx.echo(f"warning: other clusters of ours still running (billing): {', '.join(others)}")
    info["others"] = others
    return info


def step_locations(ctx: AwsContext, bucket: str, input_uri: Optional[str],
                   output_uri: Optional[str]) -> Tuple[str, str]:
    """The step's input (default: the uploaded images) and output (default: a new folder per
    run), both checked usable on our clusters before anything is sent."""
    return (b.cluster_location(input_uri or b.s3_uri(bucket, b.RAW_PREFIX), bucket, "--input"),
            b.cluster_location(output_uri or b.s3_uri(bucket, b.run_output_key(ctx.injected.run_id())),
                               bucket, "--output"))


def submit(
    ctx: AwsContext,
    input_uri: Optional[str] = None,
    output_uri: Optional[str] = None,
    extra_args: Sequence[str] = (),
    cluster_id: Optional[str] = None,
    wait: bool = True,
    timeout_s: float = STEP_TIMEOUT_S,
) -> str:
    """The pipeline as an EMR step on S3 input/output; waits, and on failure shows why."""
    bucket = ctx.bucket()
    input_uri, output_uri = step_locations(ctx, bucket, input_uri, output_uri)
    found = current_cluster(ctx, cluster_id)
    step = s.pipeline_step(input_uri, output_uri, step_model_args(ctx, extra_args))
    step_id = str(ctx.send(s.add_steps(found, [step]))["StepIds"][0])
    ctx.state.set("last_step", step_id)
    ctx.state.set("last_output", output_uri)
    ctx.echo(f"step {step_id} submitted to {found}; results go to {output_uri}")
    if not wait or ctx.dry_run:
        return step_id
    answer = wait_for_step(ctx, found, step_id, timeout_s)
    status_ = answer["Step"]["Status"]
    if status_["State"] != "COMPLETED":
        show_step_failure(ctx, found, step_id, status_)
        raise AwsError(f"the pipeline step {status_['State']}", "read the stderr above (`bigfruits aws logs` shows more)")
    ctx.echo(f"step {step_id} completed; results in {output_uri} (`bigfruits aws download-results`)")
    return step_id


def show_step_failure(ctx: AwsContext, cluster_id: str, step_id: str, status_: Dict[str, Any]) -> None:
    """EMR's FailureDetails of a step that did not complete, then the end of its stderr."""
    details = status_.get("FailureDetails", {})
    ctx.echo(f"step {step_id} {status_['State']}: {details.get('Reason', '')} {details.get('Message', '')}".rstrip())
    if details.get("LogFile"):
        ctx.echo(f"  log: {details['LogFile']}")
    ctx.echo(step_log_tail(ctx, cluster_id, step_id))


def wait_for_step(ctx: AwsContext, cluster_id: str, step_id: str, timeout_s: float) -> Dict[str, Any]:
    """Poll a step until it ends (COMPLETED, FAILED, ...); its last DescribeStep answer."""
    return wait_for(
        lambda: ctx.send(s.describe_step(cluster_id, step_id)),
        lambda a: str(a["Step"]["Status"]["State"]), s.STEP_DONE_STATES, f"step {step_id}",
        timeout_s, ctx.injected.poll_interval_s, ctx.injected.sleep, ctx.injected.clock, ctx.echo,
    )


def step_log_tail(ctx: AwsContext, cluster_id: str, step_id: str, stream: str = "stderr",
                  lines: int = LOG_TAIL_LINES) -> str:
    """The end of a step's log from S3 (EMR copies it there a few minutes after the step)."""
    key = s.step_log_key(cluster_id, step_id, stream)
    answer = ctx.sender.attempt(b.get_object(ctx.bucket(), key), "NoSuchKey", "404")
    if not answer or "Body" not in answer:
        return f"  (no {stream} in s3://{ctx.bucket()}/{key} yet: EMR uploads logs every few minutes; try `bigfruits aws logs` later)"
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


def logs(ctx: AwsContext, step_id: Optional[str] = None, stream: str = "stderr",
         cluster_id: Optional[str] = None, lines: int = LOG_TAIL_LINES) -> str:
    found = current_cluster(ctx, cluster_id)
    step = step_id or ctx.state.get("last_step")
    if not step:
        raise InputError("no step yet", "run `bigfruits aws submit` or pass --step-id")
    text = step_log_tail(ctx, found, str(step), stream, lines)
    ctx.echo(text)
    return text


def terminate(ctx: AwsContext, cluster_id: Optional[str] = None, wait: bool = True) -> str:
    """Close the tunnel and port 22, terminate, and wait until EMR says TERMINATED."""
    found = current_cluster(ctx, cluster_id)
    if ctx.state.get("tunnel_control"):
        access.disconnect(ctx)
    for cidr in access.close_ssh_rules(ctx):
        ctx.echo(f"port 22 closed for {cidr}")
    terminate_and_wait(ctx, found, wait)
    return found


def terminate_and_wait(ctx: AwsContext, cluster_id: str, wait: bool = True) -> None:
    ctx.send(c.terminate([cluster_id]))
    if wait and not ctx.dry_run:
        wait_for(lambda: ctx.send(c.describe_cluster(cluster_id)),
                 lambda a: str(a["Cluster"]["Status"]["State"]), c.FAILED_STATES,
                 f"cluster {cluster_id}", TERMINATE_TIMEOUT_S, ctx.injected.poll_interval_s,
                 ctx.injected.sleep, ctx.injected.clock, ctx.echo)
    ctx.state.remove(CLUSTER_KIND, cluster_id)
    access.forget_host_keys(ctx, cluster_id)
    if ctx.state.get("cluster") == cluster_id:
        ctx.state.set("cluster", None)
    ctx.echo(f"cluster {cluster_id} terminated")
