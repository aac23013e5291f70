"""A rough cost estimate per hour: on-demand EC2 + the EMR surcharge per instance, plus the EBS
volumes our cluster request asks for (root + one gp3 data volume per instance), by region.

Only an *estimate*, in USD: S3, data transfer and public IPv4 addresses are not counted.

Sources (read 2026-11-27): https://aws.amazon.com/emr/pricing/ ,
https://aws.amazon.com/ec2/pricing/on-demand/ , https://aws.amazon.com/ebs/pricing/ .
The search tool could not return the figures of those pages on that date: the us-east-1 EC2 and
EMR figures below are the ones this table already had, and $0.08 per GB-month is the gp3 rate
AWS's EBS pricing examples use for us-east-1; none was re-confirmed. eu-west-1 (our default
region, documented in the README with us-east-1) has no figures here for that reason: it is
shown as an estimate at us-east-1 prices, labelled so, until someone copies its rates from the
pages above into ``RATES``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from bigfruits.aws.requests.emr.clusters import DATA_VOLUME_GB, ROOT_VOLUME_GB

HOURS_PER_MONTH = 730  # AWS prices EBS per GB-month; its calculators use 730 hours a month
FALLBACK_REGION = "us-east-1"


@dataclass(frozen=True)
class Rates:
    #: instance type -> (EC2 on-demand $/h, EMR surcharge $/h)
    instances: Dict[str, Tuple[float, float]]
    #: EBS gp3 storage, $ per GB-month
    gp3_gb_month: float


RATES: Dict[str, Rates] = {
    "us-east-1": Rates(
        instances={
            "m5.xlarge": (0.192, 0.048),
            "m5.2xlarge": (0.384, 0.096),
            "m5.4xlarge": (0.768, 0.192),
            "m6g.xlarge": (0.154, 0.039),
            "m7g.xlarge": (0.1632, 0.041),
            "r5.xlarge": (0.252, 0.063),
            "r5.2xlarge": (0.504, 0.126),
            "c5.xlarge": (0.17, 0.043),
            "c5.2xlarge": (0.34, 0.085),
        },
        gp3_gb_month=0.08,
    ),
}


def rates_for(region: Optional[str]) -> Tuple[str, Rates]:
    """(the region whose rates apply, its rates): the region's own, else us-east-1's."""
    if region in RATES:
        return str(region), RATES[str(region)]
    return FALLBACK_REGION, RATES[FALLBACK_REGION]


def hourly_cost(groups: Dict[str, int], region: Optional[str] = None) -> Optional[float]:
    """``{"m5.xlarge": 3}`` -> $/h (instances + their EBS), or None when a type is not priced."""
    _, rates = rates_for(region)
    ebs_per_instance = (ROOT_VOLUME_GB + DATA_VOLUME_GB) * rates.gp3_gb_month / HOURS_PER_MONTH
    total = 0.0
    for instance_type, count in groups.items():
        if instance_type not in rates.instances:
            return None
        ec2, emr = rates.instances[instance_type]
        total += (ec2 + emr + ebs_per_instance) * count
    return total


def describe_cost(groups: Dict[str, int], hours: Optional[float] = None,
                  region: Optional[str] = None) -> str:
    """One line for humans, always saying it is an estimate and for which region's prices."""
    priced, rates = rates_for(region)
    per_hour = hourly_cost(groups, region)
    if per_hour is None:
        unknown = ", ".join(sorted(t for t in groups if t not in rates.instances))
        return f"cost estimate unavailable (no price for {unknown})"
    if priced == region:
        label = f"estimate: {priced} on-demand EC2 + EMR + EBS"
    else:
        label = f"estimate for us-east-1, not {region or 'your region'}: on-demand EC2 + EMR + EBS"
    text = f"about ${per_hour:.2f}/hour ({label})"
    if hours is not None:
        text += f"; about ${per_hour * hours:.2f} so far ({hours:.1f} h)"
    return text
