"""Fixtures for the AWS tests (see mock_aws.py)."""
from mock_aws import aws_env, built_wheel, moto_tls, moto_url  # noqa: F401
