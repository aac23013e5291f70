"""What `status` and `create-cluster` say a cluster costs.

moto server: the cluster and its instance groups are real moto resources (ListInstanceGroups
answers as EMR does: one entry per group, each with its RequestedInstanceCount)."""
from __future__ import annotations

import pytest

from bigfruits.aws.procedures.pricing import describe_cost, hourly_cost
from tests.support.aws.cli import run


def test_group_counts_add_groups_of_the_same_type() -> None:
    from bigfruits.aws.commands.status import group_counts

    groups = [{"InstanceType": "m5.xlarge", "RequestedInstanceCount": 1},
              {"InstanceType": "m5.xlarge", "RequestedInstanceCount": 2}]
    assert group_counts(groups) == {"m5.xlarge": 3}


def test_status_costs_every_instance_of_the_default_cluster(aws_env, built_wheel) -> None:
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    out = run(["status"]).output
    # moto has no Price List API: the us-east-1 table, for 3 instances, and saying so.
    three = describe_cost({"m5.xlarge": 3}).split(" (")[0]
    assert f"cost: {three} (estimate at us-east-1 list prices, not eu-west-1's; " in out, out


def test_cost_counts_ebs_and_says_which_regions_prices() -> None:
    from bigfruits.aws.procedures.pricing import HOURS_PER_MONTH, RATES, fallback, hourly_cost
    from bigfruits.aws.requests.emr.clusters import DATA_VOLUME_GB, ROOT_VOLUME_GB

    rates = RATES["us-east-1"]
    ec2, emr = rates.instances["m5.xlarge"]
    ebs = (ROOT_VOLUME_GB + DATA_VOLUME_GB) * rates.gp3_gb_month / HOURS_PER_MONTH
    assert hourly_cost({"m5.xlarge": 3}, rates) == pytest.approx(3 * (ec2 + emr + ebs + 0.005))  # + public IPv4
    # The table is us-east-1's: another region is never shown as if priced, and why is said.
    other = describe_cost({"m5.xlarge": 3}, priced=fallback("ap-south-1", "why"))
    assert "(estimate at us-east-1 list prices, not ap-south-1's; why)" in other
    same = describe_cost({"m5.xlarge": 3}, priced=fallback("us-east-1", "why"))
    assert "(estimate at us-east-1 list prices; why)" in same


def test_cluster_request_asks_for_the_volumes_the_estimate_counts() -> None:
    from bigfruits.aws.core.settings import AwsSettings
    from bigfruits.aws.requests.emr import clusters
    from bigfruits.aws.requests.emr.flavors import get_flavor

    params = clusters.run_job_flow(AwsSettings(bucket="b"), get_flavor("jupyterhub"), "sg-1",
                                   account_id="123456789012").params
    for group in params["Instances"]["InstanceGroups"]:
        [volume] = group["EbsConfiguration"]["EbsBlockDeviceConfigs"]
        assert volume == {"VolumeSpecification": {"VolumeType": "gp3", "SizeInGB": clusters.DATA_VOLUME_GB},
                          "VolumesPerInstance": 1}


def test_create_cluster_without_the_price_list_says_us_east_1_estimate(aws_env, built_wheel) -> None:
    run(["create-bucket"])
    out = run(["create-cluster", "--yes", "--wheel", str(built_wheel)]).output
    assert "estimate at us-east-1 list prices, not eu-west-1's; the Price List API could not be read" in out


@pytest.mark.pure
def test_cost_estimate_says_it_is_an_estimate() -> None:
    # 3 x (EC2 0.192 + EMR 0.048) + 3 x 79 GB gp3 at $0.08/GB-month over 730 h (us-east-1)
    # + 3 public IPv4 addresses at $0.005/h
    assert hourly_cost({"m5.xlarge": 3}) == pytest.approx(0.72 + 3 * 79 * 0.08 / 730 + 3 * 0.005)
    assert "estimate" in describe_cost({"m5.xlarge": 3})
    assert "$1.52 so far" in describe_cost({"m5.xlarge": 3}, hours=2.0)
    assert "unavailable" in describe_cost({"x9.huge": 1})
