"""``bigfruits aws serverless ...`` as a user types it, against the moto server.

moto: the application and job run lifecycle it implements (create/get/list/stop/delete
application, start/get/cancel/list job run; the bucket, IAM). What moto lacks (its applications
are STARTED and its job runs SUCCESS at once, with no stateDetails nor billed usage; no Service
Quotas for emr-serverless, no Price List) comes from ``FakeServerless``
(tests/support/aws/serverless.py), named in each test that uses it. The dependency archive is
the small stand-in of tests/aws/conftest.py (the real one: tests/e2e/test_serverless_*.py).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bigfruits.aws.core.settings import DEFAULT_RELEASE
from bigfruits.aws.procedures import serverless_archive
from bigfruits.errors import InputError
from tests.support.aws.cli import injected, make_dataset, run
from tests.support.aws.server import ACCOUNT, BUCKET, REGION, MotoSender, boto, nothing_of_ours_left
from tests.support.aws.serverless import BILLED, STAND_IN_ARCHIVE, FakeServerless, price_list_answer

ROLE = "bigfruits-serverless-job-role"
RUN = ["serverless", "run", "--", "--k", "5", "--weights", "random"]


def moto() -> Any:
    """moto as it is (the bucket policy aside: see MotoSender)."""
    return injected(MotoSender)


def faked(**script: Any) -> Any:
    fakes: List[FakeServerless] = []
    obj = injected(lambda s: fakes.append(FakeServerless(s, **script)) or fakes[-1])
    obj.fakes = fakes  # type: ignore[attr-defined]
    return obj


def live_applications() -> List[Dict[str, Any]]:
    states = ["CREATING", "CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED"]
    return boto("emr-serverless").list_applications(states=states)["applications"]


def ready(tmp_path: Path) -> str:
    """A bucket with images and our application; its id."""
    run(["create-bucket"])
    run(["upload-dataset", str(make_dataset(tmp_path / "fruits") / "Test")])
    run(["serverless", "create"], moto())
    [application] = live_applications()
    return str(application["id"])


def job_runs(application_id: str) -> List[Dict[str, Any]]:
    client = boto("emr-serverless")
    return [client.get_job_run(applicationId=application_id, jobRunId=r["id"])["jobRun"]
            for r in client.list_job_runs(applicationId=application_id)["jobRuns"]]


def test_the_lifecycle_on_moto_leaves_nothing(aws_env, tmp_path: Path) -> None:
    """create (twice: idempotent) -> run -> status -> destroy, and nothing of ours is left."""
    application_id = ready(tmp_path)
    out = run(["serverless", "create"], moto()).output
    assert "exists" in out and len(live_applications()) == 1
    application = boto("emr-serverless").get_application(applicationId=application_id)["application"]
    assert application["releaseLabel"] == DEFAULT_RELEASE == "emr-7.13.0" and application["name"] == "bigfruits-serverless"
    assert application["autoStopConfiguration"] == {"enabled": True, "idleTimeoutMinutes": 5}
    assert application["autoStartConfiguration"] == {"enabled": True}
    # moto has no Service Quotas for emr-serverless: AWS's documented 16 vCPU, said so
    assert application["maximumCapacity"]["cpu"] == "16 vCPU" and "documented default" in out
    assert "networkConfiguration" not in application
    assert application["tags"] == {"bigfruits:managed": "true", "bigfruits:project": "bigfruits"}

    role = boto("iam").get_role(RoleName=ROLE)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:emr-serverless:{REGION}:{ACCOUNT}:/applications/{application_id}"}}
    policy = boto("iam").get_role_policy(RoleName=ROLE, PolicyName=ROLE)["PolicyDocument"]
    assert {a for s in policy["Statement"] for a in s["Action"]} <= {
        "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
        "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}

    out = run(RUN, moto()).output
    [job] = job_runs(application_id)
    assert job["state"] == "SUCCESS" and "SUCCESS" in out and "billed" in out
    assert job["executionRole"] == f"arn:aws:iam::{ACCOUNT}:role/bigfruits/{ROLE}"
    submit = job["jobDriver"]["sparkSubmit"]
    assert submit["entryPoint"].startswith(f"s3://{BUCKET}/serverless/scripts/")
    args = submit["entryPointArguments"]
    assert args[:3] == ["run", "--input", f"s3://{BUCKET}/raw/"] and args[5:9] == ["--k", "5", "--weights", "random"]
    assert args[9] == "--model" and args[10].startswith(f"s3://{BUCKET}/models/")
    assert job["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"] == {
        "logUri": f"s3://{BUCKET}/logs/serverless/"}
    archive_key = submit["sparkSubmitParameters"].split("spark.archives=s3://" + BUCKET + "/")[1].split("#")[0]
    stored = boto("s3").get_object(Bucket=BUCKET, Key=archive_key)["Body"].read()
    assert stored == STAND_IN_ARCHIVE + b"3.9"  # the archive built here, named by its sha256
    driver_key = submit["entryPoint"].split(BUCKET + "/", 1)[1]
    driver = boto("s3").get_object(Bucket=BUCKET, Key=driver_key)["Body"].read().decode()
    assert "sys.version_info[:2] != (3, 9)" in driver and "from bigfruits.cli import main" in driver

    # a second run uploads neither the archive nor the driver again
    before = {o["Key"] for o in boto("s3").list_objects_v2(Bucket=BUCKET, Prefix="serverless/")["Contents"]}
    run(RUN, moto())
    after = {o["Key"] for o in boto("s3").list_objects_v2(Bucket=BUCKET, Prefix="serverless/")["Contents"]}
    assert after == before and len(job_runs(application_id)) == 2

    out = run(["serverless", "status"], moto()).output
    assert application_id in out and out.count("SUCCESS") == 2 and "$" in out

    out = run(["destroy", "--yes"], moto()).output
    assert f"removed serverless-application {application_id}" in out and f"removed iam-role {ROLE}" in out
    assert live_applications() == []
    assert all(not v for v in nothing_of_ours_left().values()), nothing_of_ours_left()


def test_a_failed_run_shows_its_states_details_stderr_and_cost(aws_env, tmp_path: Path) -> None:
    """FakeServerless (moto's runs are SUCCESS at once): PENDING -> RUNNING -> FAILED with AWS's
    stateDetails, the driver's stderr in S3 as EMR Serverless leaves it, and billed usage."""
    application_id = ready(tmp_path)
    obj = faked(job_states=["PENDING", "RUNNING", "FAILED"],
                state_details="Job failed, please check complete logs in configured logging destination.",
                logs={"stderr": "Traceback (most recent call last)\nbigfruits: error: no images under s3://x/raw/\n"})
    result = run(RUN, obj, expect_ok=False)
    out = result.output
    assert result.exit_code != 0 and "the job run FAILED" in str(result.exception)
    assert out.index("PENDING") < out.index("RUNNING") < out.index("FAILED")
    assert "please check complete logs" in out and "| bigfruits: error: no images" in out
    # billed usage x us-east-1 list prices (moto has no Price List), said so
    assert f"billed {BILLED['vCPUHour']:.3f} vCPU-hours, {BILLED['memoryGBHour']:.3f} GB-hours" in out
    assert "$0.03" in out and "us-east-1 list prices" in out
    out = run(["serverless", "logs"], moto()).output
    assert "| bigfruits: error: no images" in out
    assert application_id in str(run(["serverless", "status"], moto()).output)


def test_a_queued_run_on_a_bigger_quota_is_sized_and_priced_from_the_account(aws_env, tmp_path: Path) -> None:
    """FakeServerless answers what moto has not: Service Quotas (64 vCPU) and the Price List
    (eu-west-1 rates); the run waits QUEUED (the application's concurrency limit) first."""
    run(["create-bucket"])
    obj = faked(quota=64.0, prices=price_list_answer(0.06, 0.007, 0.0001))
    out = run(["serverless", "create"], obj).output
    assert "quota: 64" in out and live_applications()[0]["id"]
    application = boto("emr-serverless").get_application(applicationId=live_applications()[0]["id"])
    assert application["application"]["maximumCapacity"]["cpu"] == "64 vCPU"
    obj = faked(quota=64.0, prices=price_list_answer(0.06, 0.007, 0.0001),
                job_states=["QUEUED", "QUEUED", "SCHEDULED", "RUNNING", "SUCCESS"])
    out = run(RUN, obj).output
    assert out.index("QUEUED") < out.index("RUNNING") < out.index("SUCCESS")
    [job] = job_runs(live_applications()[0]["id"])
    assert "spark.dynamicAllocation.maxExecutors=15 " in job["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"] + " "
    cost = BILLED["vCPUHour"] * 0.06 + BILLED["memoryGBHour"] * 0.007
    assert f"${cost:.2f} (eu-west-1 rates from the AWS Price List)" in out


def test_cancel_waits_through_cancelling(aws_env, tmp_path: Path) -> None:
    """FakeServerless: after CancelJobRun the run is CANCELLING, then CANCELLED (moto: at once)."""
    application_id = ready(tmp_path)
    run([*RUN[:2], "--no-wait", *RUN[2:]], faked())
    obj = faked(job_states=["RUNNING"])
    out = run(["serverless", "cancel"], obj).output
    [job] = job_runs(application_id)
    assert obj.fakes[0].cancelled == [job["jobRunId"]]
    assert out.index("CANCELLING") < out.index("CANCELLED")


def test_destroy_cancels_running_runs_and_stops_before_deleting(aws_env, tmp_path: Path) -> None:
    """FakeServerless: a run still RUNNING is cancelled (CANCELLING, then CANCELLED), the
    application STOPPING then STOPPED, and only then deleted (AWS deletes CREATED or STOPPED
    applications only; moto does not wait)."""
    application_id = ready(tmp_path)
    run([*RUN[:2], "--no-wait", *RUN[2:]], faked())
    obj = faked(job_states=["RUNNING"])
    out = run(["destroy", "--yes"], obj).output
    fake = obj.fakes[0]
    operations = [r.operation for r in fake.sent]
    cancel, stop, delete = (operations.index(op) for op in ("CancelJobRun", "StopApplication", "DeleteApplication"))
    assert cancel < stop < delete
    assert operations[cancel:stop].count("ListJobRuns") >= 2, "waited for CANCELLED"
    assert operations[stop:delete].count("GetApplication") >= 2, "waited for STOPPED"
    assert "STOPPING" in out and live_applications() == []
    assert f"removed serverless-application {application_id}" in out


def test_probe_prints_the_images_interpreters(aws_env, tmp_path: Path) -> None:
    """FakeServerless writes the probe's stdout where EMR Serverless puts it."""
    ready(tmp_path)
    report = {"driver": {"version": "3.9.23", "executable": "/usr/bin/python3.9", "libc": "glibc 2.34"},
              "executors": {"version": "3.9.23", "executable": "/usr/bin/python3"},
              "interpreters": {"/usr/bin/python3.9": {"version": "3.9.23", "packages": {"numpy": "1.26.4"}},
                               "/usr/bin/python3.11": {"version": "3.11.11", "packages": {}}}}
    stdout = "x\nbigfruits-probe: " + json.dumps(report) + "\n"
    out = run(["serverless", "probe"], faked(logs={"stdout": stdout})).output
    assert "/usr/bin/python3.9: Python 3.9.23; numpy 1.26.4" in out
    assert "/usr/bin/python3.11: Python 3.11.11; none of ours" in out
    assert "executors: Python 3.9.23 (/usr/bin/python3)" in out


@pytest.mark.parametrize("args, said", [
    (["--input", "s3a://b/raw/"], "s3://"),
    (["--input", f"s3://{BUCKET}/mine/"], f"s3://{BUCKET}/raw/mine/"),
    (["--output", f"s3://{BUCKET}/results/"], f"s3://{BUCKET}/output/results/"),
    (["--python", "3.12"], "3.9"),
])
def test_a_wrong_location_or_python_stops_in_one_line_before_anything_is_sent(
        aws_env, tmp_path: Path, args: List[str], said: str) -> None:
    """A user's mistake: ``InputError`` (bigfruits.cli prints it as one line, exit 2), or
    click's own usage error for a --python it does not offer."""
    run(["create-bucket"])
    obj = faked()
    result = run(["serverless", "run", *args], obj, expect_ok=False)
    if args[0] == "--python":
        assert result.exit_code == 2 and "'3.9'" in result.output
    else:
        assert isinstance(result.exception, InputError) and said in str(result.exception)
        assert "\n" not in str(result.exception)
    assert not [r for r in (obj.fakes[0].sent if obj.fakes else []) if r.service == "emr-serverless"]


def test_run_before_create_and_a_quota_too_small_say_what_to_do(aws_env, tmp_path: Path,
                                                              no_archive_build: List[str]) -> None:
    run(["create-bucket"])
    result = run(RUN, moto(), expect_ok=False)
    assert isinstance(result.exception, InputError)
    assert "run `bigfruits aws serverless create`" in str(result.exception)
    assert no_archive_build == []  # said before minutes of building an archive
    result = run(["serverless", "create"], faked(quota=4.0), expect_ok=False)
    assert isinstance(result.exception, InputError)
    assert "4 vCPU" in str(result.exception) and "Service Quotas" in str(result.exception)
    assert live_applications() == []


def test_the_archive_is_for_the_python_asked(aws_env, tmp_path: Path, no_archive_build: List[str]) -> None:
    application_id = ready(tmp_path)
    run([*RUN[:2], "--python", "3.11", *RUN[2:]], moto())
    assert no_archive_build == ["3.11"]
    [job] = job_runs(application_id)
    params = job["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    assert "spark.executorEnv.PYSPARK_PYTHON=/usr/bin/python3.11" in params
    assert serverless_archive.check_python("3.11") == "3.11"


def test_ctrl_c_stops_the_watching_not_the_run(aws_env, tmp_path: Path) -> None:
    """FakeServerless keeps the run RUNNING; Ctrl-C while waiting says the run goes on and how
    to stop it, and cancels nothing."""
    ready(tmp_path)
    obj = faked(job_states=["RUNNING"])

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    obj.sleep = interrupted
    result = run(RUN, obj, expect_ok=False)
    assert result.exit_code != 0 and "goes on (`bigfruits aws serverless cancel` stops it)" in result.output
    assert obj.fakes[0].cancelled == [] and "CancelJobRun" not in [r.operation for r in obj.fakes[0].sent]
