"""``bigfruits aws ...``: every command's options, each a few lines that call ``commands/``;
nothing here talks to AWS itself. ``@pass_aws`` builds the one ``AwsContext`` a command gets.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import click

from bigfruits.aws.core.context import AwsContext, Injected
from bigfruits.aws.core.settings import AUTH_MODES, build_settings, parse_forward, read_config
from bigfruits.aws.requests.emr.flavors import FLAVORS
from bigfruits.aws.requests.emr_serverless import PYTHONS as SERVERLESS_PYTHONS


class _Invocation:
    """What the group parsed, plus the injected outside world (tests pass ``obj=Injected``)."""

    def __init__(self, overrides: Dict[str, Any], dry_run: bool, config: Optional[Path],
                 injected: Injected) -> None:
        self.overrides = overrides
        self.dry_run = dry_run
        self.config = config
        self.injected = injected

    def updated(self, given: Dict[str, Any]) -> "_Invocation":
        """This invocation with the global options ``given`` (by parameter name) where set."""
        given = {name: value for name, value in given.items() if value is not None}
        config = given.pop("config", self.config)
        dry_run = bool(given.pop("dry_run", self.dry_run))
        return _Invocation({**self.overrides, **given}, dry_run, config, self.injected)

    def context(self, **more: Any) -> AwsContext:
        overrides = {**self.overrides, **{k: v for k, v in more.items() if v is not None}}
        settings = build_settings(read_config(self.config), overrides)
        return AwsContext.create(settings, self.dry_run, self.injected)


#: The options every ``aws`` command takes, before its name or after it (as the AWS CLI's
#: global options): (flag, parameter name, click settings). Given in both places, the one after
#: the command name wins.
GLOBAL_OPTIONS: Tuple[Tuple[str, str, Dict[str, Any]], ...] = (
    ("--profile", "profile", {"help": "AWS profile (else AWS_PROFILE / default)."}),
    ("--region", "region", {"help": "AWS region (else AWS_REGION / the profile's region / the config file)."}),
    ("--project", "project", {"help": "Name prefix and tag value of everything created [bigfruits]."}),
    ("--bucket", "bucket", {"help": "Bucket name [<project>-<account>-<region>]."}),
    ("--config", "config", {"type": click.Path(path_type=Path),
                            "help": "TOML config file with an [aws] table [~/.config/bigfruits/config.toml]."}),
    ("--state-file", "state_file", {"type": click.Path(path_type=Path),
                                    "help": "Where to remember what was created."}),
    ("--dry-run", "dry_run", {"is_flag": True, "default": None,
                              "help": "Send nothing; print each request as one JSON line (everything "
                                      "local is still made and checked)."}),
)
#: What a command's own copy of a global option is called in its parameters.
GLOBAL_PREFIX = "global_"
CLUSTER_HELP = "Another cluster than the current one (the last create-cluster)."
WHEEL_HELP = ("The bigfruits wheel the nodes install [this bigfruits': built from its checkout, "
              "or repacked from the installed package].")


def global_options(prefix: str = "", **extra: Any) -> Callable:
    """Decorator: the global options, with parameter names ``<prefix><name>``."""

    def decorate(func: Callable) -> Callable:
        for flag, name, settings in reversed(GLOBAL_OPTIONS):
            func = click.option(flag, prefix + name, **{**settings, **extra.get(name, {})})(func)
        return func

    return decorate


def pass_aws(**setting_params: str) -> Callable:
    """Decorator: the global options (also after the command's name), then the ``AwsContext``
    built from them (with the named command options as settings overrides, e.g.
    ``pass_aws(release="release")``), passed as the first argument."""

    def decorate(func: Callable) -> Callable:
        @global_options(GLOBAL_PREFIX)
        @functools.wraps(func)
        @click.pass_obj
        def wrapper(inv: _Invocation, *args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(GLOBAL_PREFIX + name) for _, name, _ in GLOBAL_OPTIONS}
            inv = inv.updated(given)
            overrides = {setting: kwargs.pop(param) for setting, param in setting_params.items()}
            return func(inv.context(**overrides), *args, **kwargs)

        return wrapper

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options(profile={"envvar": "AWS_PROFILE"})
@click.pass_context
def aws(ctx: click.Context, profile: Optional[str], region: Optional[str], project: Optional[str],
        bucket: Optional[str], config: Optional[Path], state_file: Optional[Path], dry_run: Optional[bool]) -> None:
    """Run the pipeline on AWS EMR: bucket, dataset, cluster (JupyterHub, EMR Studio), steps,
    teardown.

    The options below go before or after the command's name."""
    injected = ctx.obj if isinstance(ctx.obj, Injected) else Injected()
    ctx.obj = _Invocation({}, False, None, injected).updated(
        {"profile": profile, "region": region, "project": project, "bucket": bucket,
         "config": config, "state_file": state_file, "dry_run": dry_run})


@aws.command("create-bucket")
@pass_aws()
def create_bucket_cmd(ctx: AwsContext) -> None:
    """A private, encrypted, TLS-only bucket with our layout (idempotent)."""
    from bigfruits.aws.commands.create_bucket import create_bucket

    create_bucket(ctx)


@aws.command("upload-dataset")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@pass_aws()
def upload_dataset_cmd(ctx: AwsContext, path: Optional[Path]) -> None:
    """Upload images to s3://<bucket>/raw/ (only what changed). Default: the bundled sample."""
    from bigfruits.aws.commands.upload_dataset import upload_dataset

    upload_dataset(ctx, path)


@aws.command("create-keypair")
@click.option("--key-name", help="EC2 key pair name [<project>-key].")
@pass_aws(key_name="key_name")
def create_keypair_cmd(ctx: AwsContext) -> None:
    """EC2 key pair for SSH; the private key saved with mode 0600 (idempotent)."""
    from bigfruits.aws.commands.create_keypair import create_keypair

    create_keypair(ctx)


@aws.command("create-cluster")
@click.option("--flavor", type=click.Choice(sorted(FLAVORS)), default="jupyterhub", show_default=True,
              help="jupyterhub: JupyterHub reached through `connect`; studio: for EMR Studio Workspaces (Livy, Jupyter Enterprise Gateway).")
@click.option("--release", help="EMR release label, 7.1.0 or later [emr-7.13.0].")
@click.option("--master-type", help="Master instance type [m5.xlarge].")
@click.option("--core-type", help="Core instance type [m5.xlarge].")
@click.option("--core-count", type=int, help="Number of core nodes [2].")
@click.option("--idle-timeout", "idle_timeout_s", type=int, help="Auto-terminate after this many idle seconds [3600].")
@click.option("--key-name", help="EC2 key pair name [<project>-key].")
@click.option("--subnet-id", help="Subnet to start in [the default VPC; for --flavor studio, "
              "the subnet of the Studio create-studio made].")
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=WHEEL_HELP)
@click.option("--notebook", type=click.Path(path_type=Path),
              help="Notebook to place for JupyterHub [ours, shipped with bigfruits].")
@click.option("--no-model", is_flag=True,
              help="Start without the notebooks' model (the ImageNet graph, exported here once): a "
                   "bare cluster for steps only (submit uploads the model each step runs).")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), default="fp32", show_default=True,
              help="The notebooks' model: the fp32 graph, or the int8 graph made here (bigfruits run "
                   "--precision).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-wait", is_flag=True, help="Return once requested, without waiting for WAITING.")
@pass_aws(release="release", master_type="master_type", core_type="core_type",
          core_count="core_count", idle_timeout_s="idle_timeout_s", key_name="key_name",
          subnet_id="subnet_id")
def create_cluster_cmd(ctx: AwsContext, flavor: str, wheel: Optional[Path], notebook: Optional[Path],
                       no_model: bool, precision: str, yes: bool, no_wait: bool) -> None:
    """An EMR cluster running our package (shows the cost estimate, asks first)."""
    from bigfruits.aws.commands.create_cluster import create_cluster

    create_cluster(ctx, flavor, yes=yes, wheel=wheel, notebook=notebook, wait=not no_wait,
                   with_model=not no_model, precision=precision)


@aws.command("status")
@click.option("--cluster-id", help=CLUSTER_HELP)
@pass_aws()
def status_cmd(ctx: AwsContext, cluster_id: Optional[str]) -> None:
    """State, uptime, master, applications, steps, cost so far; warns about others running."""
    from bigfruits.aws.commands.status import status

    status(ctx, cluster_id)


@aws.command("connect")
@click.option("--cluster-id", help=CLUSTER_HELP)
@click.option("--forward", "forwards", multiple=True, metavar="LOCAL:REMOTE",
              help="Port to forward (repeatable) [9443, 18080, 8088].")
@click.option("--host", help="Reach the master at this address instead of its public DNS.")
@click.option("--ssh-port", type=int, default=22, show_default=True, help="The master's SSH port.")
@click.option("--user", "ssh_user", help="SSH user [hadoop].")
@click.option("--my-ip", help="Your public IPv4 (else looked up at checkip.amazonaws.com).")
@pass_aws(ssh_user="ssh_user")
def connect_cmd(ctx: AwsContext, cluster_id: Optional[str], forwards: tuple, host: Optional[str],
                ssh_port: int, my_ip: Optional[str]) -> None:
    """SSH tunnel to JupyterHub (9443) and the Spark/YARN UIs, in the background."""
    from bigfruits.aws.commands.connect import connect
    from bigfruits.aws.procedures.tunnel import DEFAULT_FORWARDS

    pairs = [parse_forward(f) for f in forwards] or list(DEFAULT_FORWARDS)
    connect(ctx, cluster_id, pairs, host, ssh_port, my_ip)


@aws.command("disconnect")
@pass_aws()
def disconnect_cmd(ctx: AwsContext) -> None:
    """Close the background SSH tunnel."""
    from bigfruits.aws.commands.disconnect import disconnect

    disconnect(ctx)


#: the nodes' role may use the project's bucket only (s3.cluster_location checks it)
STEP_INPUT_HELP = "s3:// input in the project's bucket [s3://<bucket>/raw/]."
STEP_OUTPUT_HELP = "s3:// output in the project's bucket [s3://<bucket>/output/<run id>/, new each run]."


@aws.command("submit", context_settings={"ignore_unknown_options": True})
@click.option("--input", "input_uri", help=STEP_INPUT_HELP)
@click.option("--output", "output_uri", help=STEP_OUTPUT_HELP)
@click.option("--cluster-id", help=CLUSTER_HELP)
@click.option("--no-wait", is_flag=True, help="Return once submitted (`status` and `logs` follow the step).")
@click.option("--timeout", "timeout_s", type=float, default=3 * 3600, show_default=True, help="Seconds.")
@click.argument("pipeline_args", nargs=-1, type=click.UNPROCESSED)
@pass_aws()
def submit_cmd(ctx: AwsContext, input_uri: Optional[str], output_uri: Optional[str],
               cluster_id: Optional[str], no_wait: bool, timeout_s: float, pipeline_args: tuple) -> None:
    """Run the pipeline as an EMR step; extra args go to `bigfruits run` (e.g. -- --k 50)."""
    from bigfruits.aws.commands.submit import submit

    submit(ctx, input_uri, output_uri, pipeline_args, cluster_id, wait=not no_wait, timeout_s=timeout_s)


@aws.command("run", context_settings={"ignore_unknown_options": True})
@click.option("--input", "input_uri", help=STEP_INPUT_HELP)
@click.option("--output", "output_uri", help=STEP_OUTPUT_HELP)
@click.option("--release", help="EMR release label, 7.1.0 or later [emr-7.13.0].")
@click.option("--master-type", help="Master instance type [m5.xlarge].")
@click.option("--core-type", help="Core instance type [m5.xlarge].")
@click.option("--core-count", type=int, help="Number of core nodes [2].")
@click.option("--subnet-id", help="Subnet to start in [the default VPC].")
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=WHEEL_HELP)
@click.option("--timeout", "timeout_s", type=float, default=3 * 3600, show_default=True,
              help="Seconds to wait; then the cluster is terminated.")
@click.option("--no-wait", is_flag=True,
              help="Return once started (the cluster still terminates itself when the step ends; "
                   "`status`, `logs` and `download-results` follow it).")
@click.option("--download-to", "dest", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Where the results are downloaded on success.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.argument("pipeline_args", nargs=-1, type=click.UNPROCESSED)
@pass_aws(release="release", master_type="master_type", core_type="core_type",
          core_count="core_count", subnet_id="subnet_id")
def run_cmd(ctx: AwsContext, input_uri: Optional[str], output_uri: Optional[str], wheel: Optional[Path],
            timeout_s: float, no_wait: bool, dest: Path, yes: bool, pipeline_args: tuple) -> None:
    """The pipeline on a cluster of its own that terminates itself when the step ends (even if
    this machine sleeps); waits, shows a failure's stderr, downloads the results. Extra args go
    to `bigfruits run` (e.g. -- --k 50)."""
    from bigfruits.aws.commands.run import run_transient

    run_transient(ctx, input_uri, output_uri, pipeline_args, wheel=wheel, yes=yes,
                  timeout_s=timeout_s, dest=dest, wait=not no_wait)


@aws.command("logs")
@click.option("--step-id", help="Step [the last submitted].")
@click.option("--stream", type=click.Choice(["stderr", "stdout", "controller"]), default="stderr", show_default=True,
              help="Which log of the step.")
@click.option("--lines", type=int, default=30, show_default=True, help="How many lines from its end.")
@click.option("--cluster-id", help=CLUSTER_HELP)
@pass_aws()
def logs_cmd(ctx: AwsContext, step_id: Optional[str], stream: str, lines: int, cluster_id: Optional[str]) -> None:
    """The end of a step's log from S3."""
    from bigfruits.aws.commands.logs import logs

    logs(ctx, step_id, stream, cluster_id, lines)


@aws.command("download-results")
@click.argument("dest", required=False, default="results", type=click.Path(path_type=Path))
@click.option("--run", "run_id", help="Run id (its folder under s3://<bucket>/output/) [the last submitted].")
@pass_aws()
def download_results_cmd(ctx: AwsContext, dest: Path, run_id: Optional[str]) -> None:
    """Download one run's output (features, PCA) to DEST [./results]."""
    from bigfruits.aws.commands.download_results import download_results

    download_results(ctx, dest, run_id)


@aws.command("terminate")
@click.option("--cluster-id", help=CLUSTER_HELP)
@click.option("--no-wait", is_flag=True, help="Return once asked, without waiting until it is gone.")
@pass_aws()
def terminate_cmd(ctx: AwsContext, cluster_id: Optional[str], no_wait: bool) -> None:
    """Close port 22 and the tunnel, terminate the cluster and wait until it is gone."""
    from bigfruits.aws.commands.terminate import terminate

    terminate(ctx, cluster_id, wait=not no_wait)


@aws.command("destroy")
@click.option("--yes", is_flag=True, help="Also delete the bucket without asking.")
@pass_aws()
def destroy_cmd(ctx: AwsContext, yes: bool) -> None:
    """Remove everything bigfruits created (from the state file and from tags)."""
    from bigfruits.aws.commands.destroy import destroy

    destroy(ctx, yes=yes)


@aws.command("create-studio")
@click.option("--name", help="Studio name [<project>-studio].")
@click.option("--auth-mode", type=click.Choice(AUTH_MODES), default="IAM", show_default=True,
              help="IAM: sign in with IAM; SSO: IAM Identity Center users and groups.")
@click.option("--vpc-id", help="VPC for the Studio and the clusters it attaches to [the default VPC].")
@click.option("--subnet-id", "subnet_ids", multiple=True,
              help="Subnet of --vpc-id (repeatable, up to 5) [the VPC's subnets, one per zone].")
@click.option("--idc-instance-arn", help="IAM Identity Center instance (SSO mode) [the account's].")
@click.option("--sso-user", "sso_users", multiple=True, help="Identity Center user to assign (repeatable).")
@click.option("--sso-group", "sso_groups", multiple=True, help="Identity Center group to assign (repeatable).")
@pass_aws()
def create_studio_cmd(ctx: AwsContext, name: Optional[str], auth_mode: str, vpc_id: Optional[str],
                      subnet_ids: Tuple[str, ...], idc_instance_arn: Optional[str],
                      sso_users: Tuple[str, ...], sso_groups: Tuple[str, ...]) -> None:
    """An EMR Studio with its roles and security groups; notebooks kept in s3://<bucket>/studio/
    (idempotent). Prints the Studio URL."""
    from bigfruits.aws.commands.create_studio import create_studio

    create_studio(ctx, name=name, auth_mode=auth_mode, vpc_id=vpc_id, subnet_ids=tuple(subnet_ids),
                  idc_instance_arn=idc_instance_arn, sso_users=tuple(sso_users),
                  sso_groups=tuple(sso_groups))


# --- EMR Serverless: no cluster, billed per second --------------------------------------------

@aws.group("serverless")
def serverless_group() -> None:
    """EMR Serverless: the pipeline as a job run on an application that starts on demand and
    stops by itself (no cluster, no SSH); see docs/emr-serverless.md."""


@serverless_group.command("create")
@click.option("--release", help="EMR release label, an emr-7.* [emr-7.13.0].")
@click.option("--max-vcpus", type=int, help="Cap below the account's EMR Serverless vCPU quota [the quota].")
@click.option("--interactive", is_flag=True, help="Let EMR Studio Workspaces attach the application.")
@pass_aws(release="release")
def serverless_create_cmd(ctx: AwsContext, max_vcpus: Optional[int], interactive: bool) -> None:
    """The application (capped at the account's vCPU quota) and its job runtime role (idempotent)."""
    from bigfruits.aws.commands.serverless_create import serverless_create

    serverless_create(ctx, max_vcpus=max_vcpus, interactive=interactive)


#: The archive's Python: what the image runs (`serverless probe` shows it).
PYTHON_HELP = "The image's Python the dependency archive is made for: 3.9 (EMR Serverless 7.x) or 3.11 [3.9]."


@serverless_group.command("run", context_settings={"ignore_unknown_options": True})
@click.option("--input", "input_uri", help="s3:// input under s3://<bucket>/raw/ [s3://<bucket>/raw/].")
@click.option("--output", "output_uri", help="s3:// output under s3://<bucket>/output/ [a new folder each run].")
@click.option("--python", "python_version", type=click.Choice(SERVERLESS_PYTHONS), default=SERVERLESS_PYTHONS[0],
              show_default=True, help=PYTHON_HELP)
@click.option("--no-wait", is_flag=True, help="Return once the job run is started.")
@click.option("--timeout", "timeout_s", type=float, default=3 * 3600, show_default=True,
              help="Seconds; EMR Serverless cancels the run after that (executionTimeoutMinutes).")
@click.argument("pipeline_args", nargs=-1, type=click.UNPROCESSED)
@pass_aws()
def serverless_run_cmd(ctx: AwsContext, input_uri: Optional[str], output_uri: Optional[str], python_version: str,
                       no_wait: bool, timeout_s: float, pipeline_args: tuple) -> None:
    """The pipeline as a job run; waits, then prints what it cost. Extra args go to `bigfruits run`
    (e.g. -- --k 50)."""
    from bigfruits.aws.commands.serverless_run import serverless_run

    serverless_run(ctx, input_uri, output_uri, pipeline_args, python_version=python_version, wait=not no_wait,
                   timeout_s=timeout_s)


@serverless_group.command("status")
@pass_aws()
def serverless_status_cmd(ctx: AwsContext) -> None:
    """The application's state and cap, its last job runs and what they cost."""
    from bigfruits.aws.commands.serverless_status import serverless_status

    serverless_status(ctx)


#: Which job run: "<application id>/<job run id>" as `serverless run` prints them.
JOB_HELP = "APPLICATION_ID/JOB_RUN_ID [the last run]."


@serverless_group.command("logs")
@click.option("--job", help=JOB_HELP)
@click.option("--stream", type=click.Choice(["stderr", "stdout"]), default="stderr", show_default=True)
@click.option("--lines", type=int, default=30, show_default=True)
@pass_aws()
def serverless_logs_cmd(ctx: AwsContext, job: Optional[str], stream: str, lines: int) -> None:
    """The end of a job run's driver log, from S3."""
    from bigfruits.aws.commands.serverless_logs import serverless_logs

    serverless_logs(ctx, job, stream, lines)


@serverless_group.command("cancel")
@click.option("--job", help=JOB_HELP)
@click.option("--no-wait", is_flag=True)
@pass_aws()
def serverless_cancel_cmd(ctx: AwsContext, job: Optional[str], no_wait: bool) -> None:
    """Cancel a job run and wait until it is cancelled."""
    from bigfruits.aws.commands.serverless_cancel import serverless_cancel

    serverless_cancel(ctx, job, wait=not no_wait)


@serverless_group.command("probe")
@click.option("--no-wait", is_flag=True)
@pass_aws()
def serverless_probe_cmd(ctx: AwsContext, no_wait: bool) -> None:
    """A one-minute job run that prints the image's Python interpreters and package versions."""
    from bigfruits.aws.commands.serverless_probe import serverless_probe

    serverless_probe(ctx, wait=not no_wait)
