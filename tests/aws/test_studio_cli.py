"""``bigfruits aws create-studio`` and ``scripts/aws_emr_studio_setup.sh`` as a user types them.

Tool: ``--dry-run`` (the AWS layer's DryRunSender) and botocore's service model. Why: moto
does not implement EMR Studio, and a dry run is exactly what a user can check before spending
anything: every printed line must be a request botocore would accept. The wrapper script runs
in a subprocess with this checkout's ``src`` first on PYTHONPATH, so it tests this code.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import botocore.session
import pytest
from botocore.validate import validate_parameters

from bigfruits.cli import main

ROOT = Path(__file__).resolve().parents[2]
_MODEL = botocore.session.get_session()


def _lines(text: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _assert_valid(line: Dict[str, Any]) -> None:
    model = _MODEL.get_service_model(line["service"])
    validate_parameters(line["params"], model.operation_model(line["operation"]).input_shape)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGFRUITS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BIGFRUITS_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_create_studio_dry_run_prints_valid_requests_and_the_url(capsys: pytest.CaptureFixture) -> None:
    code = main(["aws", "--region", "eu-west-3", "--bucket", "bf-bucket", "--dry-run", "create-studio",
                 "--auth-mode", "SSO", "--sso-group", "data-team"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = _lines(out)
    assert out.count("\n") == len(lines)  # stdout holds only the JSON requests
    for line in lines:
        _assert_valid(line)
    (studio,) = [line["params"] for line in lines if line["operation"] == "CreateStudio"]
    assert studio["DefaultS3Location"] == "s3://bf-bucket/studio/"
    assert studio["AuthMode"] == "SSO"
    assert [line["params"]["IdentityType"] for line in lines
            if line["operation"] == "CreateStudioSessionMapping"] == ["GROUP"]
    assert "Studio URL: " in err


def test_create_studio_with_a_given_vpc_does_not_look_for_the_default(capsys: pytest.CaptureFixture) -> None:
    code = main(["aws", "--region", "eu-west-3", "--bucket", "bf-b", "--dry-run", "create-studio",
                 "--vpc-id", "vpc-9", "--subnet-id", "subnet-1", "--subnet-id", "subnet-2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    operations = [line["operation"] for line in _lines(out)]
    assert "DescribeVpcs" not in operations and "DescribeSubnets" not in operations
    (studio,) = [line["params"] for line in _lines(out) if line["operation"] == "CreateStudio"]
    assert (studio["VpcId"], studio["SubnetIds"]) == ("vpc-9", ["subnet-1", "subnet-2"])


def test_a_user_mistake_is_one_line_and_a_non_zero_exit(capsys: pytest.CaptureFixture) -> None:
    code = main(["aws", "--region", "eu-west-3", "--bucket", "bf-b", "--dry-run", "create-studio",
                 "--sso-user", "alice"])
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "--auth-mode SSO" in err


def test_destroy_dry_run_knows_the_studio_kinds(capsys: pytest.CaptureFixture) -> None:
    from bigfruits.aws.commands.destroy import KINDS
    from bigfruits.aws.core.kinds import CLUSTER as CLUSTER_KIND
    from bigfruits.aws.core.kinds import ROLE as ROLE_KIND
    from bigfruits.aws.core.kinds import SECURITY_GROUP as SECURITY_GROUP_KIND

    assert main(["aws", "--region", "eu-west-3", "--dry-run", "destroy"]) == 0
    order = [kind.name for kind in KINDS]
    assert order.index("studio") < order.index(CLUSTER_KIND) < order.index("studio-security-group")
    assert order.index("studio-security-group") < order.index(SECURITY_GROUP_KIND)
    assert order.index("studio-role") < order.index("studio-policy") < order.index(ROLE_KIND)
    operations = [line["operation"] for line in _lines(capsys.readouterr().out)]
    # nothing answered in a dry run, so no Studio service role: Studios are not listed
    assert operations.index("ListRoles") < operations.index("ListClusters")
    assert "ListStudios" not in operations


def _wrapper(*args: str) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           # without the installed `bigfruits` entry point, so the script runs this checkout
           "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                   if Path(p) != bindir)}
    return subprocess.run(["bash", str(ROOT / "scripts" / "aws_emr_studio_setup.sh"), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_wrapper_script_forwards_and_defaults_to_the_studio_flavor(tmp_path: Path, built_wheel: Path) -> None:
    """In its own process (no stand-ins): the dry run makes the real wheelhouse of our wheel
    (kept in this session's cache), and --no-model spares it the model this machine lacks."""
    studio = _wrapper("--region", "eu-west-3", "--bucket", "bf-b", "--dry-run", "create-studio")
    assert studio.returncode == 0, studio.stderr
    assert "CreateStudio" in [line["operation"] for line in _lines(studio.stdout)]
    cluster = _wrapper("--region", "eu-west-3", "--bucket", "bf-b", "--dry-run", "create-cluster",
                       "--yes", "--no-wait", "--no-model", "--wheel", str(built_wheel))
    assert cluster.returncode == 0, cluster.stderr
    (run,) = [line["params"] for line in _lines(cluster.stdout) if line["operation"] == "RunJobFlow"]
    assert {app["Name"] for app in run["Applications"]} >= {"Livy", "JupyterEnterpriseGateway"}
    assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in run["Tags"]
