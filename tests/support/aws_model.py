"""Checking a request against botocore's service model (what AWS would accept)."""
from __future__ import annotations

import botocore.session
from botocore.validate import ParamValidator

from bigfruits.aws.core.request import AwsRequest


def assert_valid(request: AwsRequest) -> None:
    model = botocore.session.get_session().get_service_model(request.service)
    report = ParamValidator().validate(request.params, model.operation_model(request.operation).input_shape)
    assert not report.has_errors(), report.generate_report()
