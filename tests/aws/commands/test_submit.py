"""Where `submit` sends the pipeline's output, and what `download-results` fetches.

moto server + FakeEmr: moto's steps never run, so FakeEmr completes the step and writes the
results where the step's own --output argument says (as the pipeline would)."""
from __future__ import annotations

import re
from pathlib import Path

from tests.support.aws.cli import injected, run
from tests.support.aws.emr import FakeEmr
from tests.support.aws.server import BUCKET, boto

RESULTS = {"pca/components.csv": b"pc1\n0.5\n"}


def _submit(run_id: str) -> str:
    obj = injected(lambda s: FakeEmr(s, results=RESULTS))
    obj.run_id = lambda: run_id
    return run(["submit"], obj).output


def test_submit_output_is_a_new_folder_per_run_and_download_fetches_that_run(aws_env, built_wheel,
                                                                              tmp_path: Path) -> None:
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    first = _submit("run-1")
    assert f"results go to s3://{BUCKET}/output/run-1/" in first
    second = _submit("run-2")  # a second run never meets the first one's output
    assert f"results go to s3://{BUCKET}/output/run-2/" in second
    steps = boto("emr").list_steps(ClusterId=boto("emr").list_clusters()["Clusters"][0]["Id"])["Steps"]
    outputs = sorted(x["Config"]["Args"][x["Config"]["Args"].index("--output") + 1]
                     for x in steps if x["Name"] == "bigfruits run")
    assert outputs == [f"s3://{BUCKET}/output/run-1/", f"s3://{BUCKET}/output/run-2/"]
    keys = sorted(o["Key"] for o in boto("s3").list_objects_v2(Bucket=BUCKET, Prefix="output/")["Contents"]
                  if not o["Key"].endswith("/"))  # create-bucket's folder markers
    assert keys == ["output/run-1/pca/components.csv", "output/run-2/pca/components.csv"]

    # download-results: the last run by default, another one by --run
    boto("s3").put_object(Bucket=BUCKET, Key="output/run-1/only-in-run-1.txt", Body=b"1")
    out = run(["download-results", str(tmp_path / "last")]).output
    assert f"s3://{BUCKET}/output/run-2/" in out
    assert (tmp_path / "last" / "pca" / "components.csv").read_bytes() == b"pc1\n0.5\n"
    assert not (tmp_path / "last" / "only-in-run-1.txt").exists()
    run(["download-results", str(tmp_path / "first"), "--run", "run-1"])
    assert (tmp_path / "first" / "only-in-run-1.txt").read_bytes() == b"1"


def test_default_run_id_is_time_sortable_and_unique() -> None:
    from bigfruits.aws.core.context import new_run_id

    a, b = new_run_id(), new_run_id()
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", a) and a != b


def test_submit_refuses_an_input_the_cluster_cannot_read(aws_env, built_wheel) -> None:
    """s3a:// is not EMRFS on EMR 7.9, and the nodes' role reads the project's bucket only: no
    step is added that could only fail."""
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    for uri, todo in [("s3a://%s/raw/" % BUCKET, f"pass --input s3://{BUCKET}/raw/"),
                      ("s3://public-fruits/raw/", f"pass --input s3://{BUCKET}/raw/")]:
        result = run(["submit", "--input", uri], injected(lambda s: FakeEmr(s)), expect_ok=False)
        assert result.exit_code != 0 and todo in str(result.exception), result.output
    cluster_id = boto("emr").list_clusters()["Clusters"][0]["Id"]
    assert [x for x in boto("emr").list_steps(ClusterId=cluster_id)["Steps"] if x["Name"] == "bigfruits run"] == []
