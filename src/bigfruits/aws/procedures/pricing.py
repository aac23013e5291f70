"""A rough cost estimate per hour: on-demand EC2 + the EMR surcharge per instance, plus the EBS
volumes our cluster request asks for (root + one gp3 data volume per instance), by region.

Only an *estimate*, in USD: S3 and data transfer are not counted. Each node's public IPv4
address is ($0.005 an hour each, in every region, since 2024-02-01:
https://aws.amazon.com/vpc/pricing/ , "Public IPv4 Address" tab; a node launched into a default
subnet gets one: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceNetworkInterfaceSpecification.html ),
so a cluster in a private subnet costs that much less.

The rates of the cluster's region are read from the AWS Price List Query API
(``requests/pricing``: GetProducts, with the user's own credentials, which need
``pricing:GetProducts``) and kept for a day in ``price-cache.json`` next to the state file, so
``status`` does not ask each time. When the API cannot be read (permission refused, offline,
throttled, no such product) or in a dry run (nothing is sent), the estimate uses ``RATES``
below, us-east-1 list prices, and says so and why: never another region's figures silently.

``RATES`` sources (read 2026-11-27): https://aws.amazon.com/emr/pricing/ ,
https://aws.amazon.com/ec2/pricing/on-demand/ , https://aws.amazon.com/ebs/pricing/ .
The search tool could not return the figures of those pages on that date: the EC2 and EMR
figures are the ones this table already had, and $0.08 per GB-month is the gp3 rate AWS's EBS
pricing examples use for us-east-1; none was re-confirmed.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from botocore.exceptions import BotoCoreError

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.requests import pricing as price_list
from bigfruits.aws.requests.emr.clusters import DATA_VOLUME_GB, ROOT_VOLUME_GB
from bigfruits.errors import AwsError

HOURS_PER_MONTH = 730  # AWS prices EBS per GB-month; its calculators use 730 hours a month
FALLBACK_REGION = "us-east-1"
CACHE_FILE = "price-cache.json"
CACHE_TTL_S = 24 * 3600
NOT_ASKED = "the Price List API was not asked"
#: $ per public IPv4 address and hour (one per node in a public subnet), the same everywhere
PUBLIC_IPV4_HOUR = 0.005


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
            "r5.xlarge": (0.252, 0.063),
            "r5.2xlarge": (0.504, 0.126),
            "c5.xlarge": (0.17, 0.043),
            "c5.2xlarge": (0.34, 0.085),
        },
        gp3_gb_month=0.08,
    ),
}


@dataclass(frozen=True)
class Priced:
    """The rates an estimate uses: ``region``'s, read from the Price List for the region
    ``asked`` about, or (``why_not`` set) the us-east-1 table, and why."""

    asked: str
    region: str
    rates: Rates
    why_not: Optional[str] = None


def fallback(asked: Optional[str], why_not: str) -> Priced:
    return Priced(asked or "your region", FALLBACK_REGION, RATES[FALLBACK_REGION], why_not)


def hourly_cost(groups: Dict[str, int], rates: Optional[Rates] = None) -> Optional[float]:
    """``{"m5.xlarge": 3}`` -> $/h (instances, their EBS and public IPv4 address), or None when a
    type is not priced."""
    rates = rates or RATES[FALLBACK_REGION]
    ebs_per_instance = (ROOT_VOLUME_GB + DATA_VOLUME_GB) * rates.gp3_gb_month / HOURS_PER_MONTH
    total = 0.0
    for instance_type, count in groups.items():
        if instance_type not in rates.instances:
            return None
        ec2, emr = rates.instances[instance_type]
        total += (ec2 + emr + ebs_per_instance + PUBLIC_IPV4_HOUR) * count
    return total


def describe_cost(groups: Dict[str, int], hours: Optional[float] = None,
                  priced: Optional[Priced] = None) -> str:
    """One line for humans, always saying it is an estimate, whose prices, and where from."""
    priced = priced or fallback(FALLBACK_REGION, NOT_ASKED)
    per_hour = hourly_cost(groups, priced.rates)
    if per_hour is None:
        unknown = ", ".join(sorted(t for t in groups if t not in priced.rates.instances))
        why = f"; {priced.why_not}" if priced.why_not else ""
        return f"cost estimate unavailable (no {priced.region} price for {unknown}{why})"
    if priced.why_not is None:
        label = f"estimate: {priced.region} on-demand EC2 + EMR + EBS gp3 from the AWS Price List, + public IPv4"
    else:
        other = f", not {priced.asked}'s" if priced.asked != priced.region else ""
        label = f"estimate at {priced.region} list prices{other}; {priced.why_not}"
    text = f"about ${per_hour:.2f}/hour ({label})"
    if hours is not None:
        text += f"; about ${per_hour * hours:.2f} so far ({hours:.1f} h)"
    return text


def cost_line(ctx: AwsContext, groups: Dict[str, int], hours: Optional[float] = None) -> str:
    """What create-cluster, run and status print: the estimate at the region's own rates."""
    return describe_cost(groups, hours, region_rates(ctx, groups))


# -- the Price List, and a day's cache of its answers ------------------------------------------
def cache_path(ctx: AwsContext) -> Path:
    return ctx.settings.state_path().parent / CACHE_FILE


def _read_cache(path: Path) -> Dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: ask again
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: Dict[str, Any]) -> None:
    """Best effort: a cache that cannot be written only means asking again next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=".price-cache-")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def _fresh(cache: Dict[str, Any], key: str, now: float, *figures: str) -> Optional[Dict[str, Any]]:
    """The cached entry when under a day old and whole, else None (ask again)."""
    entry = cache.get(key)
    try:
        if 0 <= now - float(entry["at"]) < CACHE_TTL_S and all(float(entry[f]) >= 0 for f in figures):
            return dict(entry)
    except (TypeError, KeyError, ValueError):
        pass
    return None


def _ask(ctx: AwsContext, region: str, types: List[str]) -> Tuple[Dict[str, Tuple[float, float]], float]:
    """GetProducts for each missing figure: ({type: (EC2, EMR)}, gp3 $/GB-month).
    Raises ``LookupError`` when the Price List has no such product."""
    instances: Dict[str, Tuple[float, float]] = {}
    for instance_type in types:
        ec2 = price_list.instance_hourly_usd(ctx.send(price_list.ec2_instance(region, instance_type)))
        if ec2 is None:
            raise LookupError(f"it has no EC2 price for {instance_type} in {region}")
        emr = price_list.instance_hourly_usd(ctx.send(price_list.emr_instance(region, instance_type)))
        if emr is None:
            raise LookupError(f"it has no EMR price for {instance_type} in {region}")
        instances[instance_type] = (ec2, emr)
    gp3 = price_list.gp3_gb_month_usd(ctx.send(price_list.gp3_storage(region)))
    if gp3 is None:
        raise LookupError(f"it has no EBS gp3 price in {region}")
    return instances, gp3


def region_rates(ctx: AwsContext, groups: Dict[str, int]) -> Priced:
    """The region's rates for these instance types: from the cache when under a day old, else
    from the Price List (then cached); the us-east-1 table, labelled with why, otherwise."""
    region = ctx.region
    path = cache_path(ctx)
    cache = _read_cache(path)
    now = ctx.injected.wall_clock()
    cached = {t: _fresh(cache, f"{region} {t}", now, "ec2", "emr") for t in sorted(groups)}
    gp3 = _fresh(cache, f"{region} gp3", now, "gb_month")
    missing = [t for t, entry in cached.items() if entry is None]
    if missing or gp3 is None:
        if ctx.dry_run:
            return fallback(region, f"dry run: {NOT_ASKED}")
        try:
            asked, gp3_rate = _ask(ctx, region, missing)
        except AwsError as exc:  # AWS's code when it answered; else what happened (offline...)
            return fallback(region, f"the Price List API could not be read: {exc.code or exc.what}")
        except BotoCoreError as exc:  # a read timeout...: not translated, still no traceback
            return fallback(region, f"the Price List API could not be read: {type(exc).__name__}")
        except LookupError as exc:
            return fallback(region, f"the Price List API could not be read: {exc}")
        for instance_type, (ec2, emr) in asked.items():
            cache[f"{region} {instance_type}"] = {"ec2": ec2, "emr": emr, "at": now}
        cache[f"{region} gp3"] = {"gb_month": gp3_rate, "at": now}
        _write_cache(path, cache)
        cached.update({t: cache[f"{region} {t}"] for t in asked})
        gp3 = cache[f"{region} gp3"]
    instances = {t: (float(e["ec2"]), float(e["emr"])) for t, e in cached.items() if e is not None}
    return Priced(region, region, Rates(instances=instances, gp3_gb_month=float(gp3["gb_month"])))


# -- EMR Serverless: billed vCPU-hours, GB-hours and storage GB-hours x the region's rates -----

#: us-east-1 x86 list prices per vCPU-hour, GB-hour and storage GB-hour beyond the 20 GB each
#: worker has free (https://aws.amazon.com/emr/pricing/ , EMR Serverless; as AWS's own
#: benchmark write-ups multiply them): the fallback when the Price List cannot be read.
SERVERLESS_RATES: Dict[str, Dict[str, float]] = {
    "us-east-1": {"vCPUHour": 0.052624, "memoryGBHour": 0.0057785, "storageGBHour": 0.000111}}


def serverless_rates(ctx: AwsContext) -> Tuple[Dict[str, float], str]:
    """The region's EMR Serverless rates and where they come from (the Price List, cached for
    a day; else the us-east-1 table, saying why)."""
    region = ctx.region
    path = cache_path(ctx)
    cache = _read_cache(path)
    key = f"{region} emr-serverless"
    entry = _fresh(cache, key, ctx.injected.wall_clock(), *price_list.SERVERLESS_USAGE)
    if entry is None:
        why_not = f"dry run: {NOT_ASKED}" if ctx.dry_run else None
        if why_not is None:
            try:
                found = price_list.serverless_usd(ctx.send(price_list.emr_serverless(region)))
                missing = sorted(set(price_list.SERVERLESS_USAGE) - set(found))
                why_not = f"it has no EMR Serverless {', '.join(missing)} price in {region}" if missing else None
            except AwsError as exc:  # AWS's code when it answered; else what happened (offline...)
                why_not = f"the Price List API could not be read: {exc.code or exc.what}"
            except BotoCoreError as exc:  # a read timeout...: not translated, still no traceback
                why_not = f"the Price List API could not be read: {type(exc).__name__}"
        if why_not is not None:
            return dict(SERVERLESS_RATES[FALLBACK_REGION]), f"{FALLBACK_REGION} list prices; {why_not}"
        entry = {**found, "at": ctx.injected.wall_clock()}
        cache[key] = entry
        _write_cache(path, cache)
    return {k: float(entry[k]) for k in price_list.SERVERLESS_USAGE}, f"{region} rates from the AWS Price List"


def serverless_cost(billed: Dict[str, float], rates: Dict[str, float]) -> float:
    """USD of a job run's ``billedResourceUtilization`` at ``rates``."""
    return sum(float(billed.get(k, 0.0)) * rates[k] for k in rates)
