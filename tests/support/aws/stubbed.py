"""The real ``Sender`` over real boto3 clients whose answers are canned with botocore's
``Stubber``, for the AWS APIs moto does not implement (EMR Studio, the Price List). Each
request is validated against botocore's service model before the stub answers, each answer
against the output shape, and every request sent is recorded, so the order across services
can be asserted."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import boto3
from botocore import xform_name
from botocore.stub import Stubber

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import Sender, client_key
from bigfruits.aws.requests.pricing import PRICING_REGION


class StubbedAws(Sender):
    """One stubbed client per service; ``send`` is what the sender does for real."""

    def __init__(self) -> None:
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name="eu-west-3")
        super().__init__(session)
        self.clients = {name: session.client(name)
                        for name in ("emr", "ec2", "iam", "sts", "service-quotas", "emr-serverless")}
        # The Price List answers from us-east-1 whatever the session's region, as in real use.
        self.clients["pricing"] = session.client("pricing", region_name=PRICING_REGION)
        self.by_key = {client_key(name): client for name, client in self.clients.items()}
        self.by_key[client_key("pricing", PRICING_REGION)] = self.clients["pricing"]
        self.stubbers = {name: Stubber(client) for name, client in self.clients.items()}
        self.sent: List[AwsRequest] = []

    def client(self, service: str, region: Optional[str] = None) -> Any:
        """The stubbed client of that service (and region), else a real one as Sender makes."""
        return self.by_key.get(client_key(service, region)) or super().client(service, region)

    def answer(self, service: str, operation: str, response: Dict[str, Any],
               expected: Optional[Dict[str, Any]] = None) -> "StubbedAws":
        """The next ``operation`` of ``service`` gets ``response``; with ``expected``, only if
        it was sent with exactly those parameters (``botocore.stub.ANY`` matches anything),
        else Stubber fails the test."""
        self.stubbers[service].add_response(xform_name(operation), response, expected)
        return self

    def fail(self, service: str, operation: str, code: str,
             expected: Optional[Dict[str, Any]] = None) -> "StubbedAws":
        self.stubbers[service].add_client_error(xform_name(operation), service_error_code=code,
                                                service_message=f"simulated {code}",
                                                expected_params=expected)
        return self

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        self.sent.append(request)
        return super().send(request)

    def operations(self) -> List[str]:
        return [request.operation for request in self.sent]

    def params(self, operation: str) -> List[Dict[str, Any]]:
        return [r.params for r in self.sent if r.operation == operation]
