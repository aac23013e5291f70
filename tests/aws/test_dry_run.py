"""--dry-run prints each request as one JSON line, valid against botocore's service models,
and sends nothing (no endpoint, no credentials are set up here: any sending would fail)."""
from __future__ import annotations

import hashlib
import json
from typing import List

import pytest
from botocore.validate import ParamValidator
from click.testing import CliRunner

from bigfruits.aws.cli import aws
from bigfruits.aws.core.context import Injected
from tests.support.aws.model import service_model
from tests.support.aws.stand_ins import STAND_IN_GRAPH

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

COMMANDS = [
    ["create-bucket", "--bucket", "my-bucket"],
    ["create-keypair"],
    ["create-cluster", "--yes"],
    ["create-cluster", "--yes", "--flavor", "studio"],
    ["submit", "--", "--k", "20"],
    ["run", "--yes", "--", "--k", "20"],
    ["status"],
    ["terminate"],
    ["destroy", "--yes"],
]


def _validate(lines: List[str]) -> List[str]:
    operations = []
    for line in lines:
        request = json.loads(line)
        model = service_model(request["service"]).operation_model(request["operation"])
        report = ParamValidator().validate(request["params"], model.input_shape)
        assert not report.has_errors(), (line, report.generate_report())
        operations.append(request["operation"])
    return operations


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_dry_run_prints_only_valid_requests(args, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("BIGFRUITS_CONFIG", str(tmp_path / "none.toml"))
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"resources": {}, "cluster": "j-EXISTING"}))
    injected = Injected(session_factory=lambda p, r: pytest.fail("a dry run must not make a session"),
                        ip_lookup=lambda: "203.0.113.7")
    result = CliRunner().invoke(
        aws, ["--dry-run", "--region", "eu-west-1", "--state-file", str(state), "--bucket", "bf-b", *args],
        obj=injected)
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    lines = result.stdout.strip().splitlines()
    operations = _validate(lines)
    assert operations, "a dry run prints the requests"
    assert json.loads(state.read_text()) == {"resources": {}, "cluster": "j-EXISTING"}, "nothing remembered"
    if args[0] == "create-cluster":
        run = [json.loads(x) for x in lines if '"RunJobFlow"' in x][0]["params"]
        assert run["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
        # Roles with our path go by ARN (a bare name would resolve to role/<name>).
        assert run["ServiceRole"] == "arn:aws:iam::<account-id>:role/bigfruits/bigfruits-emr-service-role"
        assert run["JobFlowRole"] == "arn:aws:iam::<account-id>:instance-profile/bigfruits/bigfruits-emr-ec2-role"
        assert "CreateRole" in operations and "CreateKeyPair" in operations and "PutObject" in operations
        # The nodes get our own policy (our bucket only), not AmazonElasticMapReduceforEC2Role.
        [node] = [json.loads(x)["params"] for x in lines if '"PutRolePolicy"' in x
                  and '"RoleName": "bigfruits-emr-ec2-role"' in x]
        assert '"arn:aws:s3:::bf-b/*"' in node["PolicyDocument"] and '"s3:*"' not in node["PolicyDocument"]
        assert "AmazonElasticMapReduceforEC2Role" not in " ".join(
            x for x in lines if '"AttachRolePolicy"' in x)
    if args[0] == "run":
        run = [json.loads(x) for x in lines if '"RunJobFlow"' in x][0]["params"]
        assert run["Instances"]["KeepJobFlowAliveWhenNoSteps"] is False
        assert [(x["Name"], x["ActionOnFailure"]) for x in run["Steps"]] == [("bigfruits run", "TERMINATE_CLUSTER")]
        assert "Ec2KeyName" not in run["Instances"] and "CreateKeyPair" not in operations
    if args[0] in ("create-cluster", "run"):
        run = [json.loads(x) for x in lines if '"RunJobFlow"' in x][0]["params"]
        # the nodes install from the wheelhouse uploaded (when missing) under its content hash:
        # a dry run makes the wheelhouse (here the stand-in of tests/support/aws/stand_ins.py)
        # and names it as the real run would
        house = hashlib.sha256((tmp_path / "wheelhouse.tar").read_bytes()).hexdigest()
        [action] = run["BootstrapActions"]
        assert action["ScriptBootstrapAction"]["Args"][:2] == [f"s3://bf-b/wheelhouse/{house}.tar", "node"]
        assert f'"Key": "wheelhouse/{house}.tar"' in "".join(x for x in lines if '"PutObject"' in x)
    if args[0] in ("submit", "run"):
        # the model the step runs: uploaded when missing, named by its content, passed as --model
        step = [json.loads(x) for x in lines if '"AddJobFlowSteps"' in x or '"RunJobFlow"' in x][-1]["params"]
        step_args = step["Steps"][-1]["HadoopJarStep"]["Args"]
        graph = hashlib.sha256(STAND_IN_GRAPH).hexdigest()
        assert step_args[-2:] == ["--model", f"s3://bf-b/models/{graph}/"]
    if args[0] == "submit":
        assert operations == ["ListObjectsV2", "PutObject", "ListObjectsV2", "PutObject", "AddJobFlowSteps"]
        assert '"JobFlowId": "j-EXISTING"' in lines[-1]


def test_dry_run_placeholders_name_unknown_values(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    result = CliRunner().invoke(
        aws, ["--dry-run", "--region", "us-east-1", "--state-file", str(tmp_path / "s.json"),
              "create-cluster", "--yes"], obj=Injected())
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "<account-id>" in out and "<sg-id of bigfruits-ssh>" in out and "<random-password>" in out
    assert "<cluster-id>" in result.stderr  # "cluster <cluster-id> requested" goes to stderr
