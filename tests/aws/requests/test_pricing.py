"""The Price List Query API requests (GetProducts) and how a price is read out of an answer,
without sending anything (the Stubber tests in tests/aws/procedures/test_pricing_api.py cover the
round trip). Answers are shaped as AWS documents them: ``PriceList`` is a list of JSON
*strings*, one product each; a price is ``terms.OnDemand.<offer>.priceDimensions.<rate>``
with a ``unit`` ("Hrs" for instance fees, "GB-Mo" for EBS storage) and ``pricePerUnit`` per
currency, as text ("Using the AWS Price List Query API", AWS Billing user guide). The figures
are test data, not today's prices."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import pytest

from bigfruits.aws.requests import pricing
from tests.support.aws.model import assert_valid

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure


def _terms(*dimensions: Dict[str, Any], offers: int = 1) -> Dict[str, Any]:
    """OnDemand terms: ``offers`` offers, each holding ``dimensions`` (unit, pricePerUnit)."""
    return {"OnDemand": {f"SKU.OFFER{o}": {"priceDimensions": {
        f"SKU.OFFER{o}.RATE{d}": dimension for d, dimension in enumerate(dimensions)}}
        for o in range(offers)}}


def _dim(unit: str, usd: Optional[str] = None, **prices: str) -> Dict[str, Any]:
    per_unit = dict(prices)
    if usd is not None:
        per_unit["USD"] = usd
    return {"unit": unit, "pricePerUnit": per_unit, "description": f"per {unit}"}


def _item(usagetype: Optional[str], terms: Optional[Dict[str, Any]]) -> str:
    product: Dict[str, Any] = {"serviceCode": "AmazonEC2"}
    if usagetype is not None:
        product["product"] = {"attributes": {"usagetype": usagetype}}
    if terms is not None:
        product["terms"] = terms
    return json.dumps(product)


def _answer(*items: Any) -> Dict[str, Any]:
    return {"FormatVersion": "aws_v1", "PriceList": list(items)}


def assert_get_products(request: Any, service_code: str) -> None:
    """A valid GetProducts of ``service_code`` on the Price List endpoint (us-east-1), aws_v1."""
    assert (request.service, request.operation, request.region) == ("pricing", "GetProducts", "us-east-1")
    assert_valid(request)
    assert request.params["ServiceCode"] == service_code
    assert (request.params["FormatVersion"], request.params["MaxResults"]) == ("aws_v1", pricing.MAX_RESULTS)


def _filters(request: Any) -> Dict[str, str]:
    """The filters as {field: value}, each checked to be an exact (TERM_MATCH) filter."""
    filters: List[Dict[str, str]] = request.params["Filters"]
    assert filters and all(set(f) == {"Type", "Field", "Value"} and f["Type"] == "TERM_MATCH" for f in filters)
    return {f["Field"]: f["Value"] for f in filters}


# --- the three questions ------------------------------------------------------------------------

def test_ec2_question_is_on_demand_linux_shared_no_software_running_instances() -> None:
    """Protects the EC2 rate: exactly one product per type and region, the one EMR runs (Linux,
    shared tenancy, no pre-installed SQL Server etc., capacity status Used rather than unused
    reservations), asked to the us-east-1 endpoint in the aws_v1 format."""
    request = pricing.ec2_instance("eu-west-1", "m5.xlarge")
    assert (request.service, request.operation, request.region) == ("pricing", "GetProducts", "us-east-1")
    assert_valid(request)
    assert {k: v for k, v in request.params.items() if k != "Filters"} == {
        "ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "MaxResults": pricing.MAX_RESULTS}
    assert 1 <= pricing.MAX_RESULTS <= 100  # GetProducts' own limit
    assert _filters(request) == {"instanceType": "m5.xlarge", "regionCode": "eu-west-1",
                                 "operatingSystem": "Linux", "tenancy": "Shared",
                                 "preInstalledSw": "NA", "capacitystatus": "Used"}
    assert len(request.params["Filters"]) == 6


def test_emr_question_is_the_emr_on_ec2_surcharge_of_the_type() -> None:
    """Protects the EMR rate: the ElasticMapReduce product of software type EMR (EMR on EC2,
    not EMR on EKS or Serverless) for the type and region."""
    request = pricing.emr_instance("ap-south-1", "r5.2xlarge")
    assert_get_products(request, "ElasticMapReduce")
    assert _filters(request) == {"instanceType": "r5.2xlarge", "regionCode": "ap-south-1", "softwareType": "EMR"}
    assert len(request.params["Filters"]) == 3


def test_gp3_question_is_the_storage_product_of_the_region() -> None:
    """Protects the EBS rate: the gp3 *storage* product (family Storage, not the IOPS or
    throughput products) of the region, an EC2 product."""
    request = pricing.gp3_storage("us-west-2")
    assert_get_products(request, "AmazonEC2")
    assert _filters(request) == {"productFamily": "Storage", "volumeApiName": "gp3", "regionCode": "us-west-2"}
    assert len(request.params["Filters"]) == 3


# --- reading the answer ---------------------------------------------------------------------

def test_hourly_fee_is_the_box_usage_product_whatever_the_answer_order() -> None:
    """Protects the figure when the answer holds more than the fee: an hourly product that is
    not the instance fee (an EBS-optimized surcharge) is passed over, first or last."""
    other = _item("EU-EBSOptimized:m5.xlarge", _terms(_dim("Hrs", "0.0250000000")))
    fee = _item("EU-BoxUsage:m5.xlarge", _terms(_dim("Hrs", "0.2140000000")))
    assert pricing.instance_hourly_usd(_answer(other, fee)) == pytest.approx(0.214)
    assert pricing.instance_hourly_usd(_answer(fee, other)) == pytest.approx(0.214)


def test_without_a_box_usage_product_any_hourly_price_is_the_fee() -> None:
    """Protects answers whose usage type is named otherwise (the EMR surcharge in some
    regions): with no BoxUsage product, the first product with an hourly price is taken, and
    one without a usage type at all is fine too."""
    first = _item("EMR:m5.xlarge", _terms(_dim("Hrs", "0.048")))
    second = _item(None, _terms(_dim("Hrs", "0.5")))
    assert pricing.instance_hourly_usd(_answer(first, second)) == pytest.approx(0.048)
    assert pricing.instance_hourly_usd(_answer(second)) == pytest.approx(0.5)


def test_hourly_fee_reads_only_hourly_usd_prices() -> None:
    """Protects the unit and currency: a dimension in another unit, one priced in CNY only
    (China regions), or one whose price is not a number, is skipped, in the same offer or in
    a later one; the first hourly USD price is the fee."""
    fee = _item("BoxUsage:m5.xlarge", _terms(
        _dim("GB-Mo", "9.0"), _dim("Hrs", CNY="1.5"), _dim("Hrs", "n/a"), _dim("Hrs"), _dim("Hrs", "0.192"),
        _dim("Hrs", "7.0")))
    assert pricing.instance_hourly_usd(_answer(fee)) == pytest.approx(0.192)
    no_price_dims = {"unit": "Hrs"}
    spread = _item("BoxUsage:m5.xlarge", {"OnDemand": {
        "A": {"priceDimensions": {"A.1": no_price_dims}}, "B": {}, "C": {"priceDimensions": {
            "C.1": _dim("Hrs", "0.3")}}}})
    assert pricing.instance_hourly_usd(_answer(spread)) == pytest.approx(0.3)


def test_a_box_usage_product_without_an_hourly_price_gives_no_fee() -> None:
    """Protects "no price" being said (the caller falls back to labelled list prices rather
    than guessing): BoxUsage products without an OnDemand hourly USD price give None, even if
    another product has one; so do an empty answer and one without PriceList."""
    reserved_only = _item("BoxUsage:m5.xlarge", {"Reserved": {"X": {"priceDimensions": {"X.1": _dim("Hrs", "0.1")}}}})
    no_terms = _item("BoxUsage:m5.xlarge", None)
    other = _item("EBSOptimized:m5.xlarge", _terms(_dim("Hrs", "0.025")))
    assert pricing.instance_hourly_usd(_answer(reserved_only, no_terms, other)) is None
    assert pricing.instance_hourly_usd(_answer()) is None
    assert pricing.instance_hourly_usd({}) is None


def test_unreadable_products_are_skipped_not_fatal() -> None:
    """Protects the estimate from one bad entry: an item that is not JSON text (or not text)
    is skipped and the products after it are still read."""
    fee = _item("BoxUsage:m5.xlarge", _terms(_dim("Hrs", "0.2")))
    storage = _item("EBS:VolumeUsage.gp3", _terms(_dim("GB-Mo", "0.08")))
    assert pricing.instance_hourly_usd(_answer("{not json", None, fee)) == pytest.approx(0.2)
    assert pricing.gp3_gb_month_usd(_answer("{not json", None, storage)) == pytest.approx(0.08)


def test_gp3_rate_is_the_gb_month_usd_price() -> None:
    """Protects the EBS figure: the first GB-month USD price in the answer, past products
    priced in another unit (IOPS-Mo) or without terms; None when there is none."""
    iops = _item("EBS:VolumeP-IOPS.gp3", _terms(_dim("IOPS-Mo", "0.005")))
    storage = _item("EBS:VolumeUsage.gp3", _terms(_dim("GB-Mo", "0.0880000000")))
    assert pricing.gp3_gb_month_usd(_answer(_item(None, None), iops, storage)) == pytest.approx(0.088)
    assert pricing.gp3_gb_month_usd(_answer(iops)) is None
    assert pricing.gp3_gb_month_usd({}) is None
