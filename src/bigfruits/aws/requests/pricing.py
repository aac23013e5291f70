"""The AWS Price List Query API (boto3 client ``pricing``, operation GetProducts): the three
questions the cost estimate asks for one region, and how to read a price out of the answer.

The API answers from a few endpoints only, whatever region the cluster is in: us-east-1 and
ap-south-1 ("AWS Price List Service API provides the following two endpoints", service
documentation as published with the SDKs, https://docs.rs/aws-sdk-pricing/0.24.0/aws_sdk_pricing/ ;
botocore's endpoint data also lists eu-central-1). We ask us-east-1. The products are filtered
by ``regionCode``, the region being priced.

Attribute names (``regionCode``, ``capacitystatus``, ``preInstalledSw``, ``volumeApiName``,
``softwareType`` EMR for EMR on EC2) are the Price List's own; they are matched exactly
(TERM_MATCH), and the product picked from the answer is the one whose usage type is the
hourly instance fee (``...BoxUsage:<type>``) or the GB-month gp3 volume rate, so an extra
product in the answer does not change the figure.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Optional

from bigfruits.aws.core.request import AwsRequest

#: Where GetProducts is sent (the Price List endpoints are not in every region).
PRICING_REGION = "us-east-1"
EC2 = "AmazonEC2"
EMR = "ElasticMapReduce"
#: One product is expected per question; a page this size is more than enough.
MAX_RESULTS = 20


def _filters(**fields: str) -> List[Dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in fields.items()]


def _get_products(service_code: str, **fields: str) -> AwsRequest:
    params = {"ServiceCode": service_code, "Filters": _filters(**fields), "FormatVersion": "aws_v1",
              "MaxResults": MAX_RESULTS}
    return AwsRequest("pricing", "GetProducts", params, region=PRICING_REGION)


def ec2_instance(region: str, instance_type: str) -> AwsRequest:
    """On-demand Linux, shared tenancy, no pre-installed software, a running instance."""
    return _get_products(EC2, instanceType=instance_type, regionCode=region, operatingSystem="Linux",
                         tenancy="Shared", preInstalledSw="NA", capacitystatus="Used")


def emr_instance(region: str, instance_type: str) -> AwsRequest:
    """The EMR surcharge per instance-hour of EMR on EC2."""
    return _get_products(EMR, instanceType=instance_type, regionCode=region, softwareType="EMR")


def gp3_storage(region: str) -> AwsRequest:
    """EBS gp3 storage, per GB-month (its IOPS and throughput above the baseline are other
    products, which our volumes do not use)."""
    return _get_products(EC2, productFamily="Storage", volumeApiName="gp3", regionCode=region)


def _on_demand_usd(product: Dict[str, Any], unit: Optional[str]) -> Optional[float]:
    """The product's on-demand USD price per ``unit`` (any unit when None), if it has one."""
    for offer in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in offer.get("priceDimensions", {}).values():
            if unit is not None and dimension.get("unit") != unit:
                continue
            usd = dimension.get("pricePerUnit", {}).get("USD")
            try:
                return float(usd)
            except (TypeError, ValueError):
                continue
    return None


def _products(price_list: Iterable[str]) -> List[Dict[str, Any]]:
    products = []
    for item in price_list:
        try:
            products.append(json.loads(item))
        except (TypeError, ValueError):
            continue
    return products


def _usage_type(product: Dict[str, Any]) -> str:
    return str(product.get("product", {}).get("attributes", {}).get("usagetype", ""))


def instance_hourly_usd(answer: Dict[str, Any]) -> Optional[float]:
    """$/h of the instance fee in a GetProducts answer (EC2 or EMR), None when it has none.
    The hourly fee's usage type is ``[<region prefix>-]BoxUsage:<type>``: that product wins."""
    products = _products(answer.get("PriceList", []))
    fees = [p for p in products if "BoxUsage" in _usage_type(p)] or products
    for product in fees:
        usd = _on_demand_usd(product, "Hrs")
        if usd is not None:
            return usd
    return None


def gp3_gb_month_usd(answer: Dict[str, Any]) -> Optional[float]:
    """$ per GB-month of gp3 storage in a GetProducts answer, None when it has none."""
    for product in _products(answer.get("PriceList", [])):
        usd = _on_demand_usd(product, "GB-Mo")
        if usd is not None:
            return usd
    return None


# --- EMR Serverless: per vCPU-hour, GB-hour and storage GB-hour ------------------------------

#: The Price List's product family of EMR Serverless (under service code ElasticMapReduce);
#: its usage types end in ``EMR-SERVERLESS-vCPUHours``, ``-MemoryGBHours``, ``-StorageGBHours``
#: (x86; Graviton's say ``-ARM-``), as GetProducts answers recorded in public repositories show:
#: not checked against a live account here (AWS is not reachable), so a product that does not
#: match is reported as missing and the cost falls back to ``SERVERLESS_RATES``, labelled.
SERVERLESS_FAMILY = "EMR Serverless"
SERVERLESS_USAGE = {"vCPUHour": "EMR-SERVERLESS-vCPUHours", "memoryGBHour": "EMR-SERVERLESS-MemoryGBHours",
                    "storageGBHour": "EMR-SERVERLESS-StorageGBHours"}


def emr_serverless(region: str) -> AwsRequest:
    """Every EMR Serverless rate of ``region`` (a handful of products: one page)."""
    return _get_products(EMR, regionCode=region, productFamily=SERVERLESS_FAMILY)


def serverless_usd(answer: Dict[str, Any]) -> Dict[str, float]:
    """{"vCPUHour": $, "memoryGBHour": $, "storageGBHour": $} of the x86 products found in a
    GetProducts answer (a missing one is left out)."""
    found: Dict[str, float] = {}
    for product in _products(answer.get("PriceList", [])):
        usage = _usage_type(product)
        for key, suffix in SERVERLESS_USAGE.items():
            if usage.endswith(suffix) and key not in found:  # "...-ARM-vCPUHours" does not end so
                usd = _on_demand_usd(product, None)
                if usd is not None:
                    found[key] = usd
    return found
