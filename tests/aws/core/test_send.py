"""``Sender.paged`` and ``Sender.send_retrying``, the one pagination and the one retry of the AWS
code, over a sender whose ``send`` answers from a script (no network: what is tested is the
loop, not botocore)."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import Sender
from bigfruits.aws.requests import iam, s3
from bigfruits.aws.requests.emr import clusters
from bigfruits.errors import AwsError

pytestmark = pytest.mark.pure


class Scripted(Sender):
    """Answers each request with the next scripted answer (an exception is raised), and keeps
    what was asked."""

    def __init__(self, answers: List[Any]) -> None:
        super().__init__(session=None)
        self.answers = list(answers)
        self.asked: List[Dict[str, Any]] = []

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        self.asked.append(dict(request.params))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_s3_listings_follow_the_continuation_token_until_the_last_page() -> None:
    sender = Scripted([
        {"Contents": [{"Key": "a"}], "IsTruncated": True, "NextContinuationToken": "t1"},
        {"Contents": [{"Key": "b"}], "IsTruncated": True, "NextContinuationToken": "t2"},
        {"Contents": [{"Key": "c"}], "IsTruncated": False},
    ])
    keys = [obj["Key"] for obj in sender.paged(s3.list_objects("bk", "raw/"), "Contents")]
    assert keys == ["a", "b", "c"]
    assert sender.asked == [{"Bucket": "bk", "Prefix": "raw/"},
                            {"Bucket": "bk", "Prefix": "raw/", "ContinuationToken": "t1"},
                            {"Bucket": "bk", "Prefix": "raw/", "ContinuationToken": "t2"}]


def test_iam_listings_follow_the_marker_while_truncated() -> None:
    sender = Scripted([
        {"Roles": [{"RoleName": "r1"}], "IsTruncated": True, "Marker": "m1"},
        {"Roles": [{"RoleName": "r2"}], "IsTruncated": False, "Marker": "ignored"},
    ])
    names = [role["RoleName"] for role in sender.paged(iam.list_our_roles(), "Roles")]
    assert names == ["r1", "r2"]
    assert sender.asked[1]["Marker"] == "m1" and len(sender.asked) == 2


def test_emr_listings_end_when_no_marker_comes_back() -> None:
    """EMR's ListClusters has no IsTruncated: the marker alone says there is more."""
    sender = Scripted([{"Clusters": [{"Id": "j-1"}], "Marker": "m1"}, {"Clusters": [{"Id": "j-2"}]}])
    ids = [c["Id"] for c in sender.paged(clusters.list_active_clusters(), "Clusters")]
    assert ids == ["j-1", "j-2"] and sender.asked[1]["Marker"] == "m1"


def test_retrying_waits_each_delay_then_sends_once_more_only_for_what_time_cures() -> None:
    not_yet = AwsError("x", "y", code="ValidationException")
    sender = Scripted([not_yet, not_yet, not_yet, {"ok": 1}])
    waits: List[float] = []
    answer = sender.send_retrying(AwsRequest("emr", "RunJobFlow", {}),
                                  lambda exc: exc.code == "ValidationException", (1.0, 2.0, 3.0), waits.append)
    assert answer == {"ok": 1} and waits == [1.0, 2.0, 3.0]
    sender = Scripted([not_yet, not_yet])
    with pytest.raises(AwsError):  # delays used up: the last answer's error goes up
        sender.send_retrying(AwsRequest("emr", "RunJobFlow", {}), lambda exc: True, (1.0,), waits.append)
    other = AwsError("x", "y", code="AccessDenied")
    sender = Scripted([other])
    with pytest.raises(AwsError, match="x"):
        sender.send_retrying(AwsRequest("emr", "RunJobFlow", {}),
                             lambda exc: exc.code == "ValidationException", (1.0,), pytest.fail)
