"""What a job run starts from, made on the user's machine: the archive's bytes (deterministic),
the pip command that unpacks the closure (nothing fetched), the driver and probe scripts as the
image's Python runs them; and the figures that size and price a run (the quota, the Price List
rates, with their labelled fallbacks), through botocore's Stubber (Service Quotas and the Price
List are not in moto)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from bigfruits.aws.core.context import AwsContext, Injected
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.core.state import State
from bigfruits.aws.procedures import pricing, serverless_archive, serverless_scripts
from bigfruits.aws.procedures.serverless_app import vcpu_quota
from bigfruits.aws.requests.pricing import PRICING_REGION
from tests.support.aws.serverless import price_list_answer
from tests.support.aws.stubbed import StubbedAws


def tree(root: Path, mode_offset: int = 0) -> Path:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "pkg" / "sub" / "lib.so").write_bytes(b"\x7fELF" * 100)
    (root / "pkg" / "sub" / "lib.so").chmod(0o775 - mode_offset)
    (root / "z.py").write_text("z = 2\n")
    (root / "a.pth").write_text("import os\n")
    for path in root.rglob("*"):
        os.utime(path, (1_000_000 + mode_offset, 1_000_000 + mode_offset))
    return root


@pytest.mark.pure
def test_the_same_files_make_the_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "1.tar.gz", tmp_path / "2.tar.gz"
    serverless_archive.deterministic_targz(tree(tmp_path / "a"), first)
    serverless_archive.deterministic_targz(tree(tmp_path / "b", mode_offset=2), second)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["a.pth", "pkg", "pkg/__init__.py", "pkg/sub", "pkg/sub/lib.so", "z.py"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.name: oct(m.mode) for m in members}["pkg/sub/lib.so"] == "0o755"
    assert {m.name: oct(m.mode) for m in members}["z.py"] == "0o644"


@pytest.mark.pure
def test_the_closure_is_unpacked_for_the_images_python_with_nothing_fetched(tmp_path: Path) -> None:
    command = serverless_archive.install_command(["numpy==1.26.4"], tmp_path / "wheels", tmp_path / "deps", "3.9")
    for flag in ("--no-index", "--no-deps", "--no-compile", "--only-binary"):
        assert flag in command
    assert command[command.index("--find-links") + 1] == str(tmp_path / "wheels")
    assert command[command.index("--target") + 1] == str(tmp_path / "deps")
    assert command[command.index("--python-version") + 1] == "3.9"
    assert command[command.index("--implementation") + 1] == "cp"
    assert "manylinux2014_x86_64" in command and command[-1] == "numpy==1.26.4"


def test_the_driver_stops_in_one_line_on_another_python(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(serverless_scripts.driver_script("3.9"))
    done = subprocess.run([sys.executable, "-I", str(script), "run"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("bigfruits: error: the dependency archive is for Python 3.9 but this image runs Python 3.")
    assert "serverless probe" in line


def test_the_driver_runs_bigfruits_from_deps_with_the_jobs_arguments(tmp_path: Path) -> None:
    """On the Python it was made for, the driver calls ``bigfruits.cli.main`` with the job's
    arguments, taken from PYTHONPATH (here a stand-in package that prints them)."""
    fake = tmp_path / "deps" / "bigfruits"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "cli.py").write_text("def main(argv):\n    print('main', argv)\n    return 3\n")
    script = tmp_path / "driver.py"
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    script.write_text(serverless_scripts.driver_script(version))
    done = subprocess.run([sys.executable, str(script), "run", "--k", "5"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env={**os.environ, "PYTHONPATH": "./deps"})
    assert done.returncode == 3 and done.stdout.strip() == "main ['run', '--k', '5']", done.stderr


def test_the_probe_reports_this_machines_interpreters(tmp_path: Path) -> None:
    """Run as EMR Serverless runs it (the image's Python, no archive); ``-S``: no pyspark here,
    so its executors' line says why instead of stopping the report."""
    script = tmp_path / "probe.py"
    script.write_text(serverless_scripts.PROBE)
    done = subprocess.run([sys.executable, "-S", str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [line] = [x for x in done.stdout.splitlines() if x.startswith("bigfruits-probe: ")]
    report = json.loads(line.split(": ", 1)[1])
    assert report["driver"]["version"] == sys.version.split()[0]
    assert "error" in report["executors"] and "pyspark" in report["executors"]["error"]
    found = {path: found.get("version") for path, found in report["interpreters"].items()}
    assert any(v and v.startswith("3.") for v in found.values()), found


@pytest.fixture
def stubbed() -> Iterator[Any]:
    """A new ``StubbedAws`` (its stubs active) for each call, all checked at the end: every
    canned answer was asked for."""
    made = []

    def make() -> StubbedAws:
        made.append(StubbedAws())
        for stubber in made[-1].stubbers.values():
            stubber.activate()
        return made[-1]

    yield make
    for aws in made:
        for stubber in aws.stubbers.values():
            stubber.assert_no_pending_responses()
            stubber.deactivate()


def context(sender: Any, tmp_path: Path, dry_run: bool = False) -> AwsContext:
    settings = AwsSettings(region="eu-west-1", bucket="bkt", state_file=tmp_path / "state.json")
    return AwsContext(settings, sender, State(settings.state_path(), dry_run=dry_run),
                      Injected(sleep=lambda s: None, wall_clock=lambda: 1_000_000.0))


QUOTA = {"Quota": {"ServiceCode": "emr-serverless", "QuotaCode": "L-D05C8A75", "Value": 32.0}}


@pytest.mark.pure
def test_the_quota_is_the_accounts_else_awss_default_else_the_documented_one(tmp_path: Path, stubbed: Any) -> None:
    aws = stubbed().answer("service-quotas", "GetServiceQuota", QUOTA)
    assert vcpu_quota(context(aws, tmp_path)) == (32, "the account's quota L-D05C8A75 (Service Quotas)")
    aws = (stubbed().fail("service-quotas", "GetServiceQuota", "NoSuchResourceException")
           .answer("service-quotas", "GetAWSDefaultServiceQuota", QUOTA))
    assert vcpu_quota(context(aws, tmp_path))[0] == 32
    assert aws.operations() == ["GetServiceQuota", "GetAWSDefaultServiceQuota"]
    aws = (stubbed().fail("service-quotas", "GetServiceQuota", "AccessDeniedException")
           .fail("service-quotas", "GetAWSDefaultServiceQuota", "AccessDeniedException"))
    value, source = vcpu_quota(context(aws, tmp_path))
    assert value == 16 and "documented default" in source and "AccessDeniedException" in source


@pytest.mark.pure
def test_the_rates_come_from_the_price_list_once_a_day(tmp_path: Path, stubbed: Any) -> None:
    aws = stubbed().answer("pricing", "GetProducts", price_list_answer(0.06, 0.007, 0.0001))
    ctx = context(aws, tmp_path)
    expected = ({"vCPUHour": 0.06, "memoryGBHour": 0.007, "storageGBHour": 0.0001},
                "eu-west-1 rates from the AWS Price List")
    assert pricing.serverless_rates(ctx) == expected
    assert aws.sent[0].region == PRICING_REGION and aws.params("GetProducts")[0]["Filters"] == [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
        {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "EMR Serverless"}]
    assert pricing.serverless_rates(ctx) == expected and len(aws.sent) == 1  # from the day's cache
    assert pricing.serverless_cost({"vCPUHour": 1.0, "memoryGBHour": 10.0, "storageGBHour": 0.0}, expected[0]) == (
        pytest.approx(0.13))


@pytest.mark.pure
def test_without_the_price_list_the_us_east_1_rates_say_why(tmp_path: Path, stubbed: Any) -> None:
    aws = stubbed().fail("pricing", "GetProducts", "AccessDeniedException")
    rates, source = pricing.serverless_rates(context(aws, tmp_path / "a"))
    assert rates == pricing.SERVERLESS_RATES["us-east-1"] and "us-east-1 list prices" in source
    assert "AccessDeniedException" in source
    aws = stubbed().answer("pricing", "GetProducts", {"FormatVersion": "aws_v1", "PriceList": []})
    rates, source = pricing.serverless_rates(context(aws, tmp_path / "b"))
    assert "no EMR Serverless memoryGBHour, storageGBHour, vCPUHour price in eu-west-1" in source
