"""The cost estimate at the cluster region's own rates, read from the AWS Price List Query API.

moto has no Price List API: botocore's Stubber answers GetProducts as AWS does (``PriceList``
is a list of JSON *strings*, one product each, with its OnDemand terms), every request is
validated against botocore's service model, and the pricing client is the us-east-1 one.
The figures below are test data in AWS's format, not a claim about today's prices."""
from __future__ import annotations

import io
import json
from typing import Any, Dict, List

import boto3

from bigfruits.aws.commands.status import status
from bigfruits.aws.procedures.pricing import (
    HOURS_PER_MONTH, RATES, cache_path, cost_line, describe_cost, fallback,
)
from bigfruits.aws.core.context import AwsContext, Injected
from bigfruits.aws.core.send import DryRunSender, Sender
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.core.state import State
from bigfruits.aws.requests.emr.clusters import DATA_VOLUME_GB, ROOT_VOLUME_GB
from bigfruits.aws.requests.pricing import PRICING_REGION
from tests.support.aws.model import assert_valid
from tests.support.aws.stubbed import StubbedAws

REGION = "eu-west-1"
EC2_M5_XLARGE, EMR_M5_XLARGE, GP3 = 0.214, 0.048, 0.088
GB_PER_INSTANCE = ROOT_VOLUME_GB + DATA_VOLUME_GB


def _product(service: str, family: str, attributes: Dict[str, str], sku: str, unit: str, usd: float,
             description: str) -> str:
    """One PriceList entry as AWS sends it: a JSON string."""
    offer = f"{sku}.JRTCKXETXF"
    return json.dumps({
        "product": {"productFamily": family, "sku": sku,
                    "attributes": {"servicecode": service, "regionCode": REGION,
                                   "location": "EU (Ireland)", **attributes}},
        "serviceCode": service,
        "terms": {"OnDemand": {offer: {
            "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
            "termAttributes": {},
            "priceDimensions": {f"{offer}.6YS6EN2CT7": {
                "rateCode": f"{offer}.6YS6EN2CT7", "unit": unit, "beginRange": "0", "endRange": "Inf",
                "description": description, "appliesTo": [],
                "pricePerUnit": {"USD": f"{usd:.10f}"}}}}}},
        "version": "20261120000000", "publicationDate": "2026-11-20T00:00:00Z",
    })


def _answer(*products: str) -> Dict[str, Any]:
    return {"FormatVersion": "aws_v1", "PriceList": list(products)}


EC2_ANSWER = _answer(_product(
    "AmazonEC2", "Compute Instance",
    {"instanceType": "m5.xlarge", "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
     "capacitystatus": "Used", "usagetype": "EU-BoxUsage:m5.xlarge", "operation": "RunInstances"},
    "EC2SKUM5XL", "Hrs", EC2_M5_XLARGE, "$0.214 per On Demand Linux m5.xlarge Instance Hour"))
EMR_ANSWER = _answer(_product(
    "ElasticMapReduce", "Elastic Map Reduce Instance",
    {"instanceType": "m5.xlarge", "softwareType": "EMR", "usagetype": "EU-BoxUsage:m5.xlarge",
     "operation": "RunInstances"},
    "EMRSKUM5XL", "Hrs", EMR_M5_XLARGE, "$0.048 per hour for EMR m5.xlarge"))
GP3_ANSWER = _answer(_product(
    "AmazonEC2", "Storage",
    {"volumeApiName": "gp3", "volumeType": "General Purpose", "usagetype": "EU-EBS:VolumeUsage.gp3"},
    "EBSSKUGP3", "GB-Mo", GP3, "$0.088 per GB-month of General Purpose (gp3) provisioned storage"))

#: 1 master + 2 core m5.xlarge, each with its root and gp3 data volume and its public IPv4
#: address ($0.005/h everywhere: https://aws.amazon.com/vpc/pricing/).
THREE = 3 * (EC2_M5_XLARGE + EMR_M5_XLARGE + GB_PER_INSTANCE * GP3 / HOURS_PER_MONTH + 0.005)




def _context(sender: Any, tmp_path: Any, clock: List[float]) -> AwsContext:
    settings = AwsSettings(region=REGION, bucket="b", state_file=tmp_path / "state.json")
    injected = Injected(wall_clock=lambda: clock[0])
    return AwsContext(settings, sender, State(settings.state_path(), dry_run=sender.dry_run), injected,
                      _account="123456789012")


def _price_list_answers(aws: StubbedAws) -> None:
    for answer in (EC2_ANSWER, EMR_ANSWER, GP3_ANSWER):
        aws.answer("pricing", "GetProducts", answer)


def test_eu_west_1_rates_come_from_the_price_list_and_the_label_names_eu_west_1(aws, tmp_path) -> None:
    _price_list_answers(aws)
    line = cost_line(_context(aws, tmp_path, [1e9]), {"m5.xlarge": 3})
    assert line == (f"about ${THREE:.2f}/hour (estimate: eu-west-1 on-demand EC2 + EMR + EBS gp3 from the "
                    "AWS Price List, + public IPv4)")
    assert "us-east-1" not in line
    aws.stubbers["pricing"].assert_no_pending_responses()
    # Sent to the Price List's us-east-1 endpoint, asking about eu-west-1's products.
    assert aws.clients["pricing"].meta.region_name == PRICING_REGION
    for request in aws.sent:
        assert_valid(request)
        assert request.region == PRICING_REGION
        assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION} in request.params["Filters"]
    assert [r.params["ServiceCode"] for r in aws.sent] == ["AmazonEC2", "ElasticMapReduce", "AmazonEC2"]


def test_status_sums_each_group_with_its_volumes(aws, tmp_path, capsys) -> None:
    """`status` on the default cluster: 1 master + 2 core, the same type, are 3 instances."""
    aws.answer("emr", "DescribeCluster", {"Cluster": {"Id": "j-1", "Name": "c", "Status": {"State": "WAITING"}}})
    aws.answer("emr", "ListInstanceGroups", {"InstanceGroups": [
        {"InstanceGroupType": "MASTER", "InstanceType": "m5.xlarge", "RequestedInstanceCount": 1},
        {"InstanceGroupType": "CORE", "InstanceType": "m5.xlarge", "RequestedInstanceCount": 2}]})
    aws.answer("emr", "ListSteps", {"Steps": []})
    _price_list_answers(aws)
    aws.answer("emr", "ListClusters", {"Clusters": []})
    ctx = _context(aws, tmp_path, [1e9])
    status(ctx, "j-1")
    assert f"  cost: about ${THREE:.2f}/hour (estimate: eu-west-1 " in capsys.readouterr().out
    assert aws.operations() == ["DescribeCluster", "ListInstanceGroups", "ListSteps", "GetProducts",
                                "GetProducts", "GetProducts", "ListClusters"]
    single = cost_line(ctx, {"m5.xlarge": 1})  # from the cache: nothing more is sent
    assert len(aws.sent) == 7
    assert single.startswith(f"about ${THREE / 3:.2f}/hour")
    assert cost_line(ctx, {"m5.xlarge": 3}).startswith(f"about ${THREE:.2f}/hour")


def test_access_denied_falls_back_to_us_east_1_list_prices_labelled_with_awss_code(aws, tmp_path) -> None:
    aws.fail("pricing", "GetProducts", "AccessDeniedException")
    ctx = _context(aws, tmp_path, [1e9])
    line = cost_line(ctx, {"m5.xlarge": 3})
    expected = describe_cost({"m5.xlarge": 3}, priced=fallback(REGION, "x")).split(" (")[0]
    assert line == (f"{expected} (estimate at us-east-1 list prices, not eu-west-1's; "
                    "the Price List API could not be read: AccessDeniedException)")
    ec2, emr = RATES["us-east-1"].instances["m5.xlarge"]
    assert expected == f"about ${3 * (ec2 + emr + GB_PER_INSTANCE * 0.08 / HOURS_PER_MONTH + 0.005):.2f}/hour"
    assert not cache_path(ctx).exists()  # a refusal is not remembered: granting it works at once


def test_offline_falls_back_and_says_aws_could_not_be_reached(tmp_path) -> None:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    sender = Sender(session, endpoint_url="http://127.0.0.1:9")  # nothing listens there
    line = cost_line(_context(sender, tmp_path, [1e9]), {"m5.xlarge": 3})
    assert ("estimate at us-east-1 list prices, not eu-west-1's; the Price List API could not be read: "
            "cannot reach AWS for pricing GetProducts") in line


def test_no_product_in_the_answer_falls_back_and_says_which(aws, tmp_path) -> None:
    aws.answer("pricing", "GetProducts", {"FormatVersion": "aws_v1", "PriceList": []})
    line = cost_line(_context(aws, tmp_path, [1e9]), {"m5.xlarge": 3})
    assert ("estimate at us-east-1 list prices, not eu-west-1's; the Price List API could not be read: "
            "it has no EC2 price for m5.xlarge in eu-west-1") in line


def test_answers_are_cached_for_a_day(aws, tmp_path) -> None:
    clock = [1e9]
    ctx = _context(aws, tmp_path, clock)
    _price_list_answers(aws)
    first = cost_line(ctx, {"m5.xlarge": 3})
    assert len(aws.sent) == 3
    clock[0] += 23 * 3600
    assert cost_line(ctx, {"m5.xlarge": 3}, hours=1.0).split(";")[0] == first  # cache hit: no request
    assert len(aws.sent) == 3
    cached = json.loads(cache_path(ctx).read_text())
    assert cached["eu-west-1 m5.xlarge"]["ec2"] == EC2_M5_XLARGE
    assert cached["eu-west-1 gp3"]["gb_month"] == GP3
    clock[0] += 2 * 3600  # more than a day since the answer: asked again
    _price_list_answers(aws)
    assert cost_line(ctx, {"m5.xlarge": 3}) == first
    assert len(aws.sent) == 6


def test_a_dry_run_sends_nothing_and_says_so(tmp_path) -> None:
    printed = io.StringIO()
    ctx = _context(DryRunSender(out=printed), tmp_path, [1e9])
    line = cost_line(ctx, {"m5.xlarge": 3})
    assert printed.getvalue() == ""
    assert line.endswith("(estimate at us-east-1 list prices, not eu-west-1's; dry run: "
                         "the Price List API was not asked)")
