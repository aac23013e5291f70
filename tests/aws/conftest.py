"""Fixtures for the AWS tests: the moto server (tests/support/moto_server.py) and our wheel."""
from tests.support.aws_cli import built_wheel  # noqa: F401
from tests.support.moto_server import aws_env, moto_tls, moto_url  # noqa: F401
