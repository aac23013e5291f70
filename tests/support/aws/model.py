"""Checking a request against botocore's service model (what AWS would accept)."""
from __future__ import annotations

import functools
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

from bigfruits.aws.core.request import AwsRequest


@functools.lru_cache(maxsize=None)
def service_model(service: str) -> Any:
    """botocore's model of ``service``, loaded once per process (EC2's takes ~1 s to parse;
    mutmut forks its per-mutant runs from a process that has them all loaded)."""
    return botocore.session.get_session().get_service_model(service)


def assert_valid(request: AwsRequest) -> None:
    model = service_model(request.service)
    report = ParamValidator().validate(request.params, model.operation_model(request.operation).input_shape)
    assert not report.has_errors(), report.generate_report()
