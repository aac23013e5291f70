"""Fixtures for the AWS tests: the moto server (tests/support/aws/server.py), our wheel,
stand-ins for what the commands make on this machine before they send anything, and ``aws``:
real boto3 clients under botocore's Stubber (tests/support/aws/stubbed.py), each canned answer
required to be used by the end of the test."""
from contextlib import ExitStack
from typing import Iterator

import pytest

from tests.support.aws.cli import built_wheel  # noqa: F401
from tests.support.aws.server import aws_env, moto_tls, moto_url  # noqa: F401
from tests.support.aws.stand_ins import local_stand_ins
from tests.support.aws.stubbed import StubbedAws


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch, tmp_path):
    """``local_stand_ins`` for every AWS test (tests of the real thing call the real function,
    kept before this fixture replaces it)."""
    return local_stand_ins(monkeypatch, tmp_path)


@pytest.fixture(autouse=True)
def no_archive_build(monkeypatch, tmp_path):
    """``serverless run`` builds no real dependency archive here (``archive_stand_in``)."""
    from tests.support.aws.serverless import archive_stand_in

    return archive_stand_in(monkeypatch, tmp_path)


@pytest.fixture
def aws() -> Iterator[StubbedAws]:
    stubbed = StubbedAws()
    with ExitStack() as stack:
        for stubber in stubbed.stubbers.values():
            stack.enter_context(stubber)
        yield stubbed
        for stubber in stubbed.stubbers.values():
            stubber.assert_no_pending_responses()
