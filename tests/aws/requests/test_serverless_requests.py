"""EMR Serverless, Service Quotas and Price List requests, and the job runtime role's documents:
shapes, AWS's model, and the rules the issue sets (what the application is, what a job run
carries, what the role may do)."""
from __future__ import annotations

import json

import pytest

from bigfruits.aws.requests import emr_serverless as serverless, pricing, service_quotas
from bigfruits.aws.requests.emr import steps
from bigfruits.aws.requests.iam_policies import serverless_job_policy, serverless_trust_policy
from bigfruits.errors import InputError
from tests.support.aws.model import assert_valid
from tests.support.aws.serverless import price_list_answer

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

TAGS = {"bigfruits:managed": "true", "bigfruits:project": "bigfruits"}
APP_ARN = "arn:aws:emr-serverless:eu-west-1:123456789012:/applications/00fapp"


def test_the_application_is_spark_on_emr_7_x86_starting_and_stopping_by_itself() -> None:
    request = serverless.create_application("bigfruits-serverless", "emr-7.9.0", 16, TAGS, "token-1")
    assert_valid(request)
    params = request.params
    assert (params["type"], params["releaseLabel"], params["architecture"]) == ("SPARK", "emr-7.9.0", "X86_64")
    assert params["autoStartConfiguration"] == {"enabled": True}
    assert params["autoStopConfiguration"] == {"enabled": True, "idleTimeoutMinutes": 5}
    assert params["maximumCapacity"] == {"cpu": "16 vCPU", "memory": "56 GB", "disk": "80 GB"}
    assert "networkConfiguration" not in params and "interactiveConfiguration" not in params
    assert params["tags"] == TAGS
    studio = serverless.create_application("n", "emr-7.1.0", 8, TAGS, "t", interactive=True)
    assert_valid(studio)
    assert studio.params["interactiveConfiguration"] == {"studioEnabled": True}


@pytest.mark.parametrize("release", ["emr-6.15.0", "emr-7", "emr-8.0.0", "emr-7.9.0-latest"])
def test_only_an_emr_7_release(release: str) -> None:
    with pytest.raises(InputError, match="emr-7.X.Y"):
        serverless.check_release(release)


@pytest.mark.parametrize("vcpus, executors", [(6, 1), (16, 3), (17, 3), (18, 4), (64, 15), (4000, 999)])
def test_executors_fit_the_quota_beside_the_driver(vcpus: int, executors: int) -> None:
    assert serverless.executor_count(vcpus) == executors
    used = serverless.DRIVER.cpu + executors * serverless.EXECUTOR.cpu
    assert used <= vcpus < used + serverless.EXECUTOR.cpu


def test_a_quota_too_small_for_a_driver_and_an_executor_is_one_line() -> None:
    with pytest.raises(InputError, match="ask for more in Service Quotas"):
        serverless.executor_count(5)


def test_worker_memory_leaves_room_for_sparks_overhead() -> None:
    """spark.X.memory + max(10%, 384 MB) within the worker, whose size AWS allows for its vCPU
    (2 vCPU: 4-16 GB; 4 vCPU: 8-30 GB)."""
    allowed = {1: (2, 8), 2: (4, 16), 4: (8, 30), 8: (16, 60), 16: (32, 120)}
    for worker in (serverless.DRIVER, serverless.EXECUTOR):
        low, high = allowed[worker.cpu]
        assert low <= worker.memory_gb <= high
        spark_gb = int(worker.spark_memory.rstrip("g"))
        assert spark_gb + max(0.1 * spark_gb, 0.384) <= worker.memory_gb


def test_a_job_run_carries_the_emr_steps_run_arguments_and_the_archive_settings() -> None:
    args = ["run", "--input", "s3://b/raw/", "--output", "s3://b/output/r1/", "--k", "5", "--model", "s3://b/models/x/"]
    confs = {**serverless.archive_confs("s3://b/serverless/archives/abc.tar.gz", "3.9"), **serverless.sizing_confs(3)}
    request = serverless.start_job_run("00fapp", "arn:aws:iam::123456789012:role/bigfruits/r", "s3://b/d.py",
                                       args, confs, "b", "bigfruits run r1", TAGS, "token-2")
    assert_valid(request)
    submit = request.params["jobDriver"]["sparkSubmit"]
    step = steps.pipeline_step("s3://b/raw/", "s3://b/output/r1/", ["--k", "5", "--model", "s3://b/models/x/"])
    step_args = step["HadoopJarStep"]["Args"]
    assert submit["entryPointArguments"] == step_args[step_args.index(steps.DRIVER_PATH) + 1:]
    parameters = submit["sparkSubmitParameters"].split()
    assert parameters[::2] == ["--conf"] * len(confs)
    assert dict(p.split("=", 1) for p in parameters[1::2]) == {
        "spark.archives": "s3://b/serverless/archives/abc.tar.gz#deps",
        "spark.emr-serverless.driverEnv.PYTHONPATH": "./deps",
        "spark.executorEnv.PYTHONPATH": "./deps",
        "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON": "/usr/bin/python3.9",
        "spark.emr-serverless.driverEnv.PYSPARK_PYTHON": "/usr/bin/python3.9",
        "spark.executorEnv.PYSPARK_PYTHON": "/usr/bin/python3.9",
        "spark.driver.cores": "2", "spark.driver.memory": "7g",
        "spark.executor.cores": "4", "spark.executor.memory": "14g",
        "spark.dynamicAllocation.initialExecutors": "1", "spark.dynamicAllocation.maxExecutors": "3"}
    assert request.params["configurationOverrides"] == {
        "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": "s3://b/logs/serverless/"}}}
    assert request.params["executionTimeoutMinutes"] == 180


def test_a_setting_with_a_space_is_refused() -> None:
    with pytest.raises(ValueError):
        serverless.spark_submit_parameters({"spark.x": "a b"})


def test_the_other_requests_are_valid() -> None:
    for request in (serverless.list_applications(), serverless.get_application("00fapp"),
                    serverless.stop_application("00fapp"), serverless.delete_application("00fapp"),
                    serverless.get_job_run("00fapp", "00frun"), serverless.cancel_job_run("00fapp", "00frun"),
                    serverless.list_job_runs("00fapp", serverless.JOB_ACTIVE_STATES),
                    service_quotas.applied_quota(), service_quotas.default_quota(),
                    pricing.emr_serverless("eu-west-1")):
        assert_valid(request)
    assert serverless.driver_log_key("00fapp", "00frun", "stdout") == (
        "logs/serverless/applications/00fapp/jobs/00frun/SPARK_DRIVER/stdout.gz")


def test_the_role_is_trusted_by_our_application_alone() -> None:
    [statement] = serverless_trust_policy("123456789012", APP_ARN)["Statement"]
    assert statement["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                                      "ArnLike": {"aws:SourceArn": APP_ARN}}


def test_the_role_may_use_our_bucket_by_prefix_and_nothing_else() -> None:
    document = serverless_job_policy("bkt")
    resources = [r for s in document["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str)
                                                            else s["Resource"])]
    assert all(r == "arn:aws:s3:::bkt" or r.startswith("arn:aws:s3:::bkt/") for r in resources)
    assert all(a.startswith("s3:") for s in document["Statement"] for a in s["Action"])
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["ReadInputsModelsAndArchives"]["Resource"] == [
        "arn:aws:s3:::bkt/raw/*", "arn:aws:s3:::bkt/models/*", "arn:aws:s3:::bkt/serverless/*",
        "arn:aws:s3:::bkt/output/*"]
    assert by_sid["WriteOutputsAndLogs"]["Resource"] == ["arn:aws:s3:::bkt/output/*",
                                                         "arn:aws:s3:::bkt/logs/serverless/*"]
    assert by_sid["ListOurPrefixes"]["Condition"]["StringLike"]["s3:prefix"] == [
        "logs/serverless/*", "models/*", "output/*", "raw/*", "serverless/*"]


def test_the_quota_and_the_billed_usage_are_read_from_aws_answers() -> None:
    assert service_quotas.quota_value({"Quota": {"Value": 64.0}}) == 64
    assert service_quotas.quota_value({}) is None
    answer = {"jobRun": {"state": "SUCCESS", "billedResourceUtilization": {"vCPUHour": 0.5, "memoryGBHour": 2.0}}}
    assert serverless.billed(answer) == {"vCPUHour": 0.5, "memoryGBHour": 2.0, "storageGBHour": 0.0}
    assert serverless.job_state(answer) == "SUCCESS"


def test_the_price_list_rates_are_the_x86_ones() -> None:
    """The ARM products (20% cheaper) are in the same answer: ours run on X86_64."""
    found = pricing.serverless_usd(price_list_answer(0.06, 0.007, 0.0001))
    assert found == {"vCPUHour": 0.06, "memoryGBHour": 0.007, "storageGBHour": 0.0001}
    assert pricing.serverless_usd({"PriceList": [json.dumps({"product": {}})]}) == {}
