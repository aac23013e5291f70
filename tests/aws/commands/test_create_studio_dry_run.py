"""``create-studio`` and the Studio part of ``destroy`` in a dry run: nothing sent, every printed
line a valid request, and the plan complete (placeholders where AWS would answer with ids).

Tool: the DryRunSender and botocore's service models; no network."""
from __future__ import annotations

import io
import json
from typing import Any, Dict

import pytest

from bigfruits.aws.commands.create_studio import ensure_studio
from bigfruits.aws.commands.destroy import destroy_studio
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import DryRunSender
from bigfruits.aws.core.settings import StudioSettings
from tests.support.aws.model import assert_valid
from tests.support.aws.studio_context import studio_context

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure


def settings(**overrides: Any) -> StudioSettings:
    base: Dict[str, Any] = dict(project="bigfruits", bucket="bf-bucket", region="eu-west-3")
    base.update(overrides)
    return StudioSettings(**base)


def _dry_run_send(printed: io.StringIO) -> DryRunSender:
    return DryRunSender(out=printed)


def test_dry_run_prints_the_whole_plan_as_valid_json_lines() -> None:
    """The dry-run sender prints and answers "nothing exists yet"; the plan must still reach
    CreateStudio, with placeholders where AWS would have answered with ids."""
    out = io.StringIO()
    s = settings(auth_mode="SSO", sso_users=("alice",))
    result = ensure_studio(studio_context(s, _dry_run_send(out)), s)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    for line in lines:
        assert set(line) == {"service", "operation", "params"}
        assert_valid(AwsRequest(line["service"], line["operation"], line["params"]))
    operations = [line["operation"] for line in lines]
    for expected in ("GetCallerIdentity", "DescribeVpcs", "CreateSecurityGroup", "CreateRole",
                     "PutRolePolicy", "CreatePolicy", "CreateStudio", "CreateStudioSessionMapping"):
        assert expected in operations
    assert operations.index("CreateSecurityGroup") < operations.index("CreateStudio")
    assert operations.index("CreateRole") < operations.index("CreateStudio")
    assert result.url == "<studio-url>"


def test_dry_run_destroy_sends_only_lookups() -> None:
    out = io.StringIO()
    removed = destroy_studio(studio_context(settings(), _dry_run_send(out)))
    operations = [json.loads(line)["operation"] for line in out.getvalue().splitlines()]
    assert removed == []
    assert operations and all(op.startswith(("List", "Describe")) for op in operations)
