"""Finding our EMR Serverless application by its tags and taking it down, through botocore's
Stubber (each request and answer held to the emr-serverless model): only ours is touched."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bigfruits.aws.core.context import AwsContext, Injected
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.core.state import State
from bigfruits.aws.procedures.serverless_app import discover_applications, remove_application
from tests.support.aws.stubbed import StubbedAws

pytestmark = pytest.mark.pure

OURS = {"bigfruits:managed": "true", "bigfruits:project": "a"}
CREATED = "2026-01-01T00:00:00Z"


def arn(app_id: str) -> str:
    return f"arn:aws:emr-serverless:eu-west-3:123456789012:/applications/{app_id}"




def context(aws: Any, tmp_path: Path) -> AwsContext:
    settings = AwsSettings(project="a", region="eu-west-3", bucket="bkt", state_file=tmp_path / "s.json")
    return AwsContext(settings, aws, State(settings.state_path()), Injected(sleep=lambda s: None))


def application(app_id: str, tags: Any, state: str = "STOPPED") -> Any:
    return {"application": {"applicationId": app_id, "name": "n", "arn": arn(app_id), "releaseLabel": "emr-7.9.0",
                            "type": "Spark", "state": state, "createdAt": CREATED, "updatedAt": CREATED,
                            "tags": tags}}


def summary(app_id: str) -> Any:
    return {"id": app_id, "arn": arn(app_id), "releaseLabel": "emr-7.9.0", "type": "Spark", "state": "STOPPED",
            "createdAt": CREATED, "updatedAt": CREATED}


def test_only_applications_with_both_our_tags_are_found(aws: StubbedAws, tmp_path: Path) -> None:
    listed = {"applications": [summary("00a"), summary("00b"), summary("00c")]}
    aws.answer("emr-serverless", "ListApplications", listed)
    aws.answer("emr-serverless", "GetApplication", application("00a", OURS))
    aws.answer("emr-serverless", "GetApplication", application("00b", {**OURS, "bigfruits:project": "b"}))
    aws.answer("emr-serverless", "GetApplication", application("00c", {"bigfruits:project": "a"}))
    assert discover_applications(context(aws, tmp_path)) == ["00a"]


def test_credentials_without_emr_serverless_do_not_stop_destroy(aws: StubbedAws, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    aws.fail("emr-serverless", "ListApplications", "AccessDeniedException")
    assert discover_applications(context(aws, tmp_path)) == []
    assert "not listed (AccessDeniedException)" in capsys.readouterr().out


@pytest.mark.parametrize("tags, state", [({**OURS, "bigfruits:project": "b"}, "STARTED"), (OURS, "TERMINATED")])
def test_an_application_not_ours_or_gone_is_left_alone(aws: StubbedAws, tmp_path: Path, tags: Any,
                                                      state: str) -> None:
    """A stale state file's id: another project's application (or one already gone) is not
    stopped or deleted."""
    aws.answer("emr-serverless", "GetApplication", application("00x", tags, state))
    remove_application(context(aws, tmp_path), "00x")
    assert aws.operations() == ["GetApplication"]
