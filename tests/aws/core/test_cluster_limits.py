"""What AWS (or our nodes) would refuse half-way is refused before the first request: the
idle timeout's range, the release, Graviton instance types (``core/cluster_limits``), and the
names of ``core/names`` (``--key-name`` included).

"Before the first request" is checked on the real CLI, not a dry run: the sender records every
request and refuses to send any, so a check that came after one would fail with that request."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from click.testing import CliRunner

from bigfruits.aws.cli import aws
from bigfruits.aws.core import cluster_limits
from bigfruits.aws.core.context import Injected
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import Sender
from bigfruits.aws.core.settings import DEFAULT_RELEASE, AwsSettings
from bigfruits.errors import InputError

pytestmark = pytest.mark.pure


@pytest.mark.parametrize("seconds, ok", [(59, False), (60, True), (3600, True), (604_800, True),
                                         (604_801, False), (0, False), (-1, False)])
def test_the_idle_timeout_is_emrs_range(seconds: int, ok: bool) -> None:
    assert (cluster_limits.idle_timeout_problem(seconds) is None) is ok


@pytest.mark.parametrize("release, ok", [
    ("emr-7.1.0", True), ("emr-7.13.0", True), ("emr-7.10.1", True), (DEFAULT_RELEASE, True),
    ("emr-7.0.0", False),   # EMR 7.0 has Python 3.9 only
    ("emr-6.15.0", False),  # Amazon Linux 2: no dnf, no python3.11 package
    ("emr-8.0.0", False), ("emr-7.1", False), ("emr-7.1.0-latest", False), ("7.1.0", False), ("", False),
])
def test_only_emr_7_1_and_later_7x_releases(release: str, ok: bool) -> None:
    assert (cluster_limits.release_problem(release) is None) is ok


@pytest.mark.parametrize("instance_type, graviton", [
    ("m6g.xlarge", True), ("m7g.2xlarge", True), ("c7gn.large", True), ("r8gd.4xlarge", True),
    ("t4g.medium", True), ("x2gd.xlarge", True), ("im4gn.large", True), ("is4gen.medium", True),
    ("hpc7g.4xlarge", True), ("g5g.xlarge", True), ("a1.large", True), ("M6G.XLARGE", True),
    ("m5.xlarge", False), ("m6i.xlarge", False), ("m7i-flex.large", False), ("m6a.xlarge", False),
    ("c5.2xlarge", False), ("r5.xlarge", False), ("g4dn.xlarge", False), ("g6e.xlarge", False),
    ("m5zn.large", False), ("gr6.4xlarge", False), ("x2iedn.xlarge", False), ("p4d.24xlarge", False),
])
def test_graviton_types_are_told_by_their_name(instance_type: str, graviton: bool) -> None:
    assert cluster_limits.is_graviton(instance_type) is graviton


def test_each_problem_is_one_line_naming_the_option_and_what_to_pass() -> None:
    cases = [
        (dict(release="emr-6.15.0"), "--release emr-6.15.0: the nodes' bootstrap needs EMR 7.1.0",
         f"pass --release emr-7.x.y (7.1.0 or later), e.g. {DEFAULT_RELEASE}"),
        (dict(idle_timeout_s=30), "--idle-timeout 30: EMR's auto-termination takes 60 to 604800 seconds",
         "pass --idle-timeout between 60 and 604800"),
        (dict(master_type="m7g.xlarge"), "--master-type m7g.xlarge is an AWS Graviton (Arm) type",
         "pass an x86_64 type instead, e.g. --master-type m5.xlarge"),
        (dict(core_type="c7g.large"), "--core-type c7g.large is an AWS Graviton (Arm) type",
         "pass an x86_64 type instead, e.g. --core-type m5.xlarge"),
    ]
    cluster_limits.check_cluster_settings(AwsSettings())  # the defaults pass
    for overrides, what, todo in cases:
        with pytest.raises(InputError) as refused:
            cluster_limits.check_cluster_settings(AwsSettings(**overrides))
        assert refused.value.what.startswith(what) and refused.value.todo.startswith(todo)
        assert "\n" not in str(refused.value)


class RefusesToSend(Sender):
    """The real sender's interface, recording each request and sending none (a request
    before the check is the bug these tests look for)."""

    def __init__(self) -> None:
        super().__init__(session=None)
        self.sent: List[AwsRequest] = []

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        self.sent.append(request)
        raise AssertionError(f"a request was sent before the check: {request.operation}")


@pytest.mark.parametrize("args, words", [
    (["create-cluster", "--yes", "--idle-timeout", "59"], "--idle-timeout 59"),
    (["create-cluster", "--yes", "--idle-timeout", "604801"], "--idle-timeout 604801"),
    (["create-cluster", "--yes", "--core-type", "m6g.xlarge"], "--core-type m6g.xlarge"),
    (["create-cluster", "--yes", "--flavor", "studio", "--master-type", "r7g.xlarge"], "--master-type r7g.xlarge"),
    (["create-cluster", "--yes", "--release", "emr-6.15.0"], "--release emr-6.15.0"),
    (["run", "--yes", "--release", "emr-7.0.0"], "--release emr-7.0.0"),
    (["run", "--yes", "--core-type", "c7gn.2xlarge"], "--core-type c7gn.2xlarge"),
    (["create-cluster", "--yes", "--key-name", "my key"], "--key-name 'my key'"),
    (["create-keypair", "--key-name", "clé"], "--key-name 'clé'"),
], ids=lambda value: (value if isinstance(value, str) else " ".join(value)).encode("ascii", "replace").decode())
# ASCII ids: mutmut selects tests by id in a second in-process pytest run, which finds no
# test whose id pytest had to escape
def test_what_aws_would_refuse_later_is_refused_before_the_first_request(
        args: List[str], words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects the account from half-done work: no tag, role, upload or cluster for a value
    that RunJobFlow (or every node's bootstrap) refuses later; one line, what to pass."""
    monkeypatch.setenv("BIGFRUITS_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("BIGFRUITS_STATE_DIR", str(tmp_path / "state"))
    sender = RefusesToSend()
    injected = Injected(session_factory=lambda profile, region: None, wrap_sender=lambda made: sender,
                        ip_lookup=lambda: "203.0.113.7", confirm=lambda question: True)
    result = CliRunner().invoke(aws, ["--region", "eu-west-1", "--bucket", "bf-bucket", *args], obj=injected)
    assert sender.sent == []
    assert isinstance(result.exception, InputError), result.exception
    assert words in str(result.exception) and "\n" not in str(result.exception)
