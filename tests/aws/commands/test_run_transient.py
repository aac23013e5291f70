"""`bigfruits aws run`: one transient cluster carrying the pipeline step, that terminates itself.

moto server + FakeEmr: moto accepts the RunJobFlow (and keeps its steps) but never runs a step;
FakeEmr scripts the step's states per poll, writes its results where its --output says, and
records TerminateJobFlows. The injected clock makes waiting instant."""
from __future__ import annotations

from pathlib import Path

from tests.support.aws.cli import injected, run
from tests.support.aws.emr import FakeEmr
from tests.support.aws.server import BUCKET, boto, put_gz

RESULTS = {"pca/components.csv": b"pc1\n0.5\n"}


def _run(built_wheel: Path, tmp_path: Path, fake_kwargs: dict, *extra: str):  # type: ignore[no-untyped-def]
    run(["create-bucket"])
    fakes = []
    obj = injected(lambda s: fakes.append(FakeEmr(s, cluster_states=[], **fake_kwargs)) or fakes[0])
    obj.run_id = lambda: "run-7"
    result = run(["run", "--yes", "--wheel", str(built_wheel), "--download-to", str(tmp_path / "res"),
                  *extra, "--", "--k", "5"], obj, expect_ok=False)
    [cluster] = boto("emr").list_clusters()["Clusters"]
    detail = boto("emr").describe_cluster(ClusterId=cluster["Id"])["Cluster"]
    [step] = boto("emr").list_steps(ClusterId=cluster["Id"])["Steps"]
    return result, fakes[0], detail, step


def test_run_succeeds_and_downloads_the_results(aws_env, built_wheel, tmp_path: Path) -> None:
    result, fake, cluster, step = _run(built_wheel, tmp_path, {"results": RESULTS})
    assert result.exit_code == 0, result.output
    assert cluster["AutoTerminate"] is True  # KeepJobFlowAliveWhenNoSteps: false
    assert step["ActionOnFailure"] == "TERMINATE_CLUSTER"
    args = step["Config"]["Args"]
    assert args[args.index("--output") + 1] == f"s3://{BUCKET}/output/run-7/" and args[-4:-2] == ["--k", "5"]
    # the model exported here, uploaded under its content hash, is what the step runs
    assert args[-2] == "--model" and args[-1].startswith(f"s3://{BUCKET}/models/")
    assert "PENDING" in result.output and "RUNNING" in result.output and "completed" in result.output
    assert (tmp_path / "res" / "pca" / "components.csv").read_bytes() == b"pc1\n0.5\n"
    assert fake.terminated == []  # it ends by itself


def test_run_failure_shows_the_details_and_stderr(aws_env, built_wheel, tmp_path: Path) -> None:
    def write_log(cluster_id: str, step_id: str) -> None:
        put_gz(BUCKET, f"logs/{cluster_id}/steps/{step_id}/stderr.gz", "Traceback\nValueError: no images\n")

    result, fake, _, _ = _run(built_wheel, tmp_path, {
        "step_states": ["PENDING", "RUNNING", "FAILED"], "on_step_done": write_log,
        "step_failure": {"Reason": "Unknown Error.", "LogFile": "s3://x/logs/"}})
    assert result.exit_code != 0
    assert "Unknown Error." in result.output and "| ValueError: no images" in result.output
    message = str(result.exception)
    assert "pipeline step FAILED" in message and "terminates itself" in message and "\n" not in message
    assert not (tmp_path / "res").exists()


def test_run_timeout_terminates_the_cluster(aws_env, built_wheel, tmp_path: Path) -> None:
    result, fake, cluster, _ = _run(built_wheel, tmp_path, {"step_states": ["PENDING", "RUNNING"]},
                                    "--timeout", "600")
    assert result.exit_code != 0 and "gave up waiting" in str(result.exception)
    assert fake.terminated == [cluster["Id"]]


def test_run_with_an_output_outside_the_bucket_starts_nothing(aws_env, built_wheel, tmp_path: Path) -> None:
    """The nodes may only write the project's bucket: the step would fail after ~10 minutes of
    bootstrap, so the run is refused before the prompt, before any role or upload."""
    run(["create-bucket"])
    result = run(["run", "--yes", "--wheel", str(built_wheel), "--output", "s3://someone-else/out/"],
                 injected(lambda s: FakeEmr(s)), expect_ok=False)
    assert result.exit_code != 0
    message = str(result.exception)
    assert message.startswith("--output s3://someone-else/out/: ") and "\n" not in message
    assert f"pass --output s3://{BUCKET}/out/" in message
    assert boto("emr").list_clusters()["Clusters"] == []
    assert boto("iam").list_roles()["Roles"] == []
    listed = boto("s3").list_objects_v2(Bucket=BUCKET, Prefix="bootstrap/")["Contents"]
    assert [x["Key"] for x in listed] == ["bootstrap/"]  # create-bucket's marker: no upload
