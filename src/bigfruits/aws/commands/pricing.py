"""A rough cost estimate: on-demand EC2 price plus the EMR surcharge, per instance-hour.

Figures are us-east-1 list prices (USD) and only an *estimate*: other regions cost more,
EBS, S3 and data transfer are not counted.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

#: instance type -> (EC2 on-demand $/h, EMR surcharge $/h), us-east-1.
PRICES: Dict[str, Tuple[float, float]] = {
    "m5.xlarge": (0.192, 0.048),
    "m5.2xlarge": (0.384, 0.096),
    "m5.4xlarge": (0.768, 0.192),
    "m6g.xlarge": (0.154, 0.039),
    "m7g.xlarge": (0.1632, 0.041),
    "r5.xlarge": (0.252, 0.063),
    "r5.2xlarge": (0.504, 0.126),
    "c5.xlarge": (0.17, 0.043),
    "c5.2xlarge": (0.34, 0.085),
}


def hourly_cost(groups: Dict[str, int]) -> Optional[float]:
    """``{"m5.xlarge": 3}`` -> $/h, or None when a type is not in the table."""
    total = 0.0
    for instance_type, count in groups.items():
        if instance_type not in PRICES:
            return None
        ec2, emr = PRICES[instance_type]
        total += (ec2 + emr) * count
    return total


def describe_cost(groups: Dict[str, int], hours: Optional[float] = None) -> str:
    """One line for humans, always saying it is an estimate."""
    per_hour = hourly_cost(groups)
    if per_hour is None:
        unknown = ", ".join(sorted(t for t in groups if t not in PRICES))
        return f"cost estimate unavailable (no price for {unknown})"
    text = f"about ${per_hour:.2f}/hour (estimate: us-east-1 on-demand EC2 + EMR, excl. storage)"
    if hours is not None:
        text += f"; about ${per_hour * hours:.2f} so far ({hours:.1f} h)"
    return text
