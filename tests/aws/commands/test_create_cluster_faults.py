"""Waiting, step success/failure, timeouts and cluster-start failure.

FakeEmr (over moto): moto's clusters jump straight to WAITING and its steps never finish, so
states are scripted per poll. Stubber: for errors moto cannot produce (throttling after
RunJobFlow) and for RunJobFlow's AutoTerminationPolicy, which moto ignores."""
from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from bigfruits.aws.commands.create_cluster import create_cluster
from bigfruits.aws.commands.submit import submit
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.send import Sender
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.core.state import State
from bigfruits.errors import AwsError
from tests.support.aws.cli import injected, run
from tests.support.aws.emr import FakeEmr
from tests.support.aws.server import BUCKET, boto, put_gz


def _setup(built_wheel) -> None:  # type: ignore[no-untyped-def]
    run(["create-bucket"])


def test_cluster_that_fails_to_start_is_reported_and_terminated(aws_env, built_wheel) -> None:
    # FakeEmr: moto never fails a cluster; this one goes STARTING -> TERMINATED_WITH_ERRORS.
    _setup(built_wheel)
    fakes = []

    def fake(sender: Sender) -> Sender:
        fakes.append(FakeEmr(sender, cluster_states=["STARTING", "TERMINATED_WITH_ERRORS"],
                             cluster_reason={"Code": "BOOTSTRAP_FAILURE", "Message": "pip failed"}))
        return fakes[0]

    result = run(["create-cluster", "--yes", "--wheel", str(built_wheel)], injected(fake), expect_ok=False)
    assert result.exit_code != 0
    assert "BOOTSTRAP_FAILURE pip failed" in str(result.exception)
    cluster_id = boto("emr").list_clusters()["Clusters"][0]["Id"]
    assert fakes[0].terminated == [cluster_id]
    assert boto("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"].startswith("TERMINATED")
    # The password step never ran, so create-cluster took its password object away itself.
    secrets = boto("s3").list_objects_v2(Bucket=BUCKET, Prefix="secrets/").get("Contents", [])
    assert secrets == []


def test_cluster_start_timeout_terminates_it(aws_env, built_wheel) -> None:
    # FakeEmr: a cluster stuck in STARTING, polled with the injected clock (no real waiting).
    _setup(built_wheel)
    fakes = []
    obj = injected(lambda s: fakes.append(FakeEmr(s, cluster_states=["STARTING"])) or fakes[0])
    result = run(["create-cluster", "--yes", "--wheel", str(built_wheel)], obj, expect_ok=False)
    assert "gave up waiting" in str(result.exception)
    assert len(fakes[0].terminated) == 1


def test_failed_step_shows_failure_details_and_stderr_tail(aws_env, built_wheel) -> None:
    # FakeEmr: the step goes PENDING -> RUNNING -> FAILED with FailureDetails; the stderr log
    # is put in moto's S3 where EMR would copy it.
    _setup(built_wheel)
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)], injected(lambda s: FakeEmr(s)))

    def write_log(cluster_id: str, step_id: str) -> None:
        put_gz(BUCKET, f"logs/{cluster_id}/steps/{step_id}/stderr.gz",
               "line 1\nTraceback (most recent call last):\nValueError: no images under s3://x/raw/\n")

    fake = injected(lambda s: FakeEmr(s, step_states=["PENDING", "RUNNING", "FAILED"], on_step_done=write_log,
                                      step_failure={"Reason": "Unknown Error.", "LogFile": "s3://x/logs/"}))
    result = run(["submit"], fake, expect_ok=False)
    assert "RUNNING" in result.output and "Unknown Error." in result.output
    assert "| ValueError: no images under s3://x/raw/" in result.output
    assert "pipeline step FAILED" in str(result.exception)
    assert "| ValueError: no images" in run(["logs", "--lines", "1"]).output


class _GivenClients(Sender):
    """The real ``Sender`` (request, error translation) over the clients a test gives it, by
    service: here botocore clients under ``Stubber``."""

    def __init__(self) -> None:
        super().__init__(session=None)
        self.given: dict = {}

    def client(self, service, region=None):  # type: ignore[no-untyped-def,override]
        return self.given[service]


def _stubbed_context(tmp_path) -> tuple:  # type: ignore[no-untyped-def]
    """A context whose EMR client is stubbed (no moto, no network)."""
    emr = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x").client("emr")
    sender = _GivenClients()
    sender.given["emr"] = emr
    settings = AwsSettings(region="eu-west-1", bucket="b", state_file=tmp_path / "state.json")
    ctx = AwsContext(settings, sender, State(settings.state_path()), injected(), _account="123456789012")
    return ctx, Stubber(emr)


def _stubbed_s3(ctx) -> Stubber:  # type: ignore[no-untyped-def]
    """The context's S3 client, stubbed too (for the JupyterHub password object)."""
    s3 = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x").client("s3")
    ctx.sender.given["s3"] = s3
    return Stubber(s3)


def _skip_setup(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """create-cluster's preparations (roles, group, key, uploads) are tested against moto; its
    cost estimate's Price List requests in test_pricing_api.py."""
    monkeypatch.setattr("bigfruits.aws.commands.create_cluster.cost_line", lambda ctx, groups, hours=None: "-")
    monkeypatch.setattr("bigfruits.aws.commands.create_cluster.ensure_roles", lambda ctx: None)
    monkeypatch.setattr("bigfruits.aws.procedures.cluster_network.in_cluster_network", lambda ctx: (ctx, "vpc-1"))
    monkeypatch.setattr("bigfruits.aws.procedures.ssh_access.ensure_ssh_group", lambda ctx, vpc_id: "sg-1")
    monkeypatch.setattr("bigfruits.aws.procedures.ssh_access.ensure_key_pair", lambda ctx: None)
    monkeypatch.setattr("bigfruits.aws.procedures.cluster_launch.upload_bootstrap", lambda ctx, wheel: None)
    monkeypatch.setattr("bigfruits.aws.procedures.jupyterhub.place_notebook", lambda ctx, f, n: None)
    monkeypatch.setattr("bigfruits.aws.procedures.jupyterhub.place_model", lambda ctx, precision: None)


def test_run_job_flow_carries_auto_termination_and_terminates_on_later_error(tmp_path, monkeypatch) -> None:
    # Stubber: moto ignores AutoTerminationPolicy and cannot throttle; Stubber validates the
    # RunJobFlow params against botocore's model and scripts a Throttling error after it.
    ctx, stub = _stubbed_context(tmp_path)
    s3_stub = _stubbed_s3(ctx)
    s3_stub.add_response("put_object", {}, {"Bucket": "b", "Key": ANY, "Body": ANY,
                                            "ServerSideEncryption": "AES256"})
    # After the terminate, the password object goes too (its step will never run).
    s3_stub.add_response("delete_objects", {}, {"Bucket": "b", "Delete": ANY})
    _skip_setup(monkeypatch)
    expected: Any = {"Name": "bigfruits-jupyterhub", "LogUri": "s3://b/logs/", "ReleaseLabel": ANY,
                     "Applications": ANY, "Configurations": ANY, "Instances": ANY,
                     "BootstrapActions": ANY, "Steps": ANY, "ServiceRole": ANY, "JobFlowRole": ANY,
                     "VisibleToAllUsers": True, "Tags": ANY,
                     "AutoTerminationPolicy": {"IdleTimeout": 3600}}
    stub.add_response("run_job_flow", {"JobFlowId": "j-1"}, expected)
    stub.add_client_error("describe_cluster", "ThrottlingException", "Rate exceeded")
    stub.add_response("terminate_job_flows", {}, {"JobFlowIds": ["j-1"]})
    with stub, s3_stub, pytest.raises(AwsError, match="throttling"):
        create_cluster(ctx, "jupyterhub", yes=True)
    stub.assert_no_pending_responses()
    s3_stub.assert_no_pending_responses()


def test_refused_cluster_takes_its_password_object_away(tmp_path, monkeypatch) -> None:
    # Stubber: RunJobFlow refused (moto accepts any request); no cluster will ever run the
    # step that deletes the password, so create-cluster deletes it itself.
    ctx, stub = _stubbed_context(tmp_path)
    s3_stub = _stubbed_s3(ctx)
    _skip_setup(monkeypatch)
    keys = []
    s3_stub.add_response("put_object", {}, {"Bucket": "b", "Key": ANY, "Body": ANY,
                                            "ServerSideEncryption": "AES256"})
    s3_stub.add_response("delete_objects", {}, {"Bucket": "b", "Delete": ANY})
    stub.add_client_error("run_job_flow", "ValidationException", "Invalid InstanceType")
    original_send = ctx.sender.send

    def recording_send(request):  # type: ignore[no-untyped-def]
        if request.operation in ("PutObject", "DeleteObjects"):
            keys.append(request.params.get("Key") or request.params["Delete"]["Objects"][0]["Key"])
        return original_send(request)

    ctx.sender.send = recording_send
    with stub, s3_stub, pytest.raises(AwsError):
        create_cluster(ctx, "jupyterhub", yes=True)
    s3_stub.assert_no_pending_responses()
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0].startswith("secrets/jupyterhub-password-")


def test_step_timeout_says_what_to_do(tmp_path, monkeypatch) -> None:
    # Stubber: a step that stays RUNNING; the injected clock advances 30 s per poll.
    monkeypatch.setattr("bigfruits.aws.commands.submit.step_model_args", lambda ctx, args: list(args))
    ctx, stub = _stubbed_context(tmp_path)
    ctx.state.set("cluster", "j-1")
    stub.add_response("add_job_flow_steps", {"StepIds": ["s-1"]})
    running = {"Step": {"Id": "s-1", "Status": {"State": "RUNNING"}}}
    for _ in range(3):
        stub.add_response("describe_step", running, {"ClusterId": "j-1", "StepId": "s-1"})
    with stub, pytest.raises(AwsError) as gave_up:
        submit(ctx, timeout_s=60)
    assert gave_up.value.what == "gave up waiting for step s-1 after 60s (still RUNNING)"
    # what to do: see where it stands, or wait longer
    assert "bigfruits aws status" in gave_up.value.todo and "--timeout" in gave_up.value.todo
    stub.assert_no_pending_responses()


def _iam_fake(errors):  # type: ignore[no-untyped-def]
    """FakeEmr (over moto): moto's RunJobFlow never sees IAM lag; this one answers the given
    ValidationExceptions first, as EMR does right after the roles are created."""
    fakes = []
    sleeps = []
    obj = injected(lambda s: fakes.append(FakeEmr(s, run_job_flow_errors=errors)) or fakes[0])
    real_sleep = obj.sleep
    obj.sleep = lambda seconds: (sleeps.append(seconds), real_sleep(seconds))  # type: ignore[assignment]
    return obj, fakes, sleeps


def test_run_job_flow_is_retried_while_iam_has_not_propagated(aws_env, built_wheel) -> None:
    _setup(built_wheel)
    errors = [("ValidationException", "Invalid InstanceProfile: bigfruits-emr-ec2-role."),
              ("ValidationException", "Service role arn:aws:iam::123456789012:role/bigfruits/"
                                      "bigfruits-emr-service-role has insufficient EC2 permissions")]
    obj, fakes, sleeps = _iam_fake(errors)
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)], obj)
    assert fakes[0].run_job_flow_calls == 3
    assert len(boto("emr").list_clusters()["Clusters"]) == 1
    assert sleeps[:3] == [10.0, 5.0, 10.0]  # the IAM settling pause, then the backoff


def test_run_job_flow_gives_up_after_about_two_minutes(aws_env, built_wheel) -> None:
    _setup(built_wheel)
    obj, fakes, sleeps = _iam_fake([("ValidationException", "Invalid InstanceProfile: x.")] * 20)
    result = run(["create-cluster", "--yes", "--wheel", str(built_wheel)], obj, expect_ok=False)
    assert "Invalid InstanceProfile" in str(result.exception)
    assert fakes[0].run_job_flow_calls == 6 and 100 <= sum(sleeps[1:]) <= 150
    assert boto("emr").list_clusters()["Clusters"] == []


def test_other_validation_errors_fail_at_once(aws_env, built_wheel) -> None:
    _setup(built_wheel)
    obj, fakes, sleeps = _iam_fake([("ValidationException", "Instance type m5.huge is not supported.")])
    result = run(["create-cluster", "--yes", "--wheel", str(built_wheel)], obj, expect_ok=False)
    assert "m5.huge" in str(result.exception)
    assert fakes[0].run_job_flow_calls == 1


def test_failed_password_step_terminates_the_cluster_and_shows_no_password(aws_env, built_wheel) -> None:
    # FakeEmr: the cluster comes up, the step that replaces JupyterHub's default password FAILS
    # (moto's steps never run). Nobody may be left with a cluster open on jovyan/jupyter.
    _setup(built_wheel)
    fakes = []
    obj = injected(lambda s: fakes.append(FakeEmr(s, step_states=["PENDING", "RUNNING", "FAILED"],
                                                  step_failure={"Reason": "chpasswd failed"})) or fakes[0])
    result = run(["create-cluster", "--yes", "--wheel", str(built_wheel)], obj, expect_ok=False)
    assert result.exit_code != 0
    assert "JupyterHub user jovyan" not in result.output
    message = str(result.exception)
    assert "\n" not in message and "sets the JupyterHub password FAILED (chpasswd failed)" in message
    cluster_id = boto("emr").list_clusters()["Clusters"][0]["Id"]
    assert fakes[0].terminated == [cluster_id]


def test_password_is_printed_once_its_step_completed(aws_env, built_wheel) -> None:
    _setup(built_wheel)
    fakes = []
    obj = injected(lambda s: fakes.append(FakeEmr(s)) or fakes[0])
    out = run(["create-cluster", "--yes", "--wheel", str(built_wheel)], obj).output
    assert out.index("COMPLETED") < out.index("JupyterHub user jovyan, password ")
    step = [x for x in boto("emr").list_steps(ClusterId=boto("emr").list_clusters()["Clusters"][0]["Id"])["Steps"]
            if x["Name"] == "set JupyterHub password"][0]
    assert step["ActionOnFailure"] == "TERMINATE_CLUSTER"
