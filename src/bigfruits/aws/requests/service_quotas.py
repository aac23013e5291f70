"""Service Quotas requests (boto3 client ``service-quotas``): the account's EMR Serverless vCPU
quota, which caps our application and sizes its executors. Nothing here sends anything.

The quota is "Max concurrent vCPUs per account" of service ``emr-serverless``, code
``L-D05C8A75``: 16 by default for a new account, adjustable, and raised by AWS with use
(https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/endpoints-quotas.html).
GetServiceQuota answers the value applied to this account; an account that never had it set
may answer NoSuchResourceException, and then AWS's default (GetAWSDefaultServiceQuota) holds.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from bigfruits.aws.core.request import AwsRequest

SERVICE = "service-quotas"
EMR_SERVERLESS = "emr-serverless"
VCPU_QUOTA = "L-D05C8A75"
#: What AWS documents for a new account, used when neither answer can be read.
DOCUMENTED_DEFAULT_VCPUS = 16


def applied_quota(service_code: str = EMR_SERVERLESS, quota_code: str = VCPU_QUOTA) -> AwsRequest:
    return AwsRequest(SERVICE, "GetServiceQuota", {"ServiceCode": service_code, "QuotaCode": quota_code})


def default_quota(service_code: str = EMR_SERVERLESS, quota_code: str = VCPU_QUOTA) -> AwsRequest:
    return AwsRequest(SERVICE, "GetAWSDefaultServiceQuota", {"ServiceCode": service_code, "QuotaCode": quota_code})


def quota_value(answer: Dict[str, Any]) -> Optional[int]:
    """The quota's value as a whole number, None when the answer has none."""
    try:
        return int(float(answer["Quota"]["Value"]))
    except (KeyError, TypeError, ValueError):
        return None
