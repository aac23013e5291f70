"""What `status` and `create-cluster` say a cluster costs.

moto server: the cluster and its instance groups are real moto resources (ListInstanceGroups
answers as EMR does: one entry per group, each with its RequestedInstanceCount)."""
from __future__ import annotations

from bigfruits.aws.commands.pricing import describe_cost
from tests.support.aws_cli import run


def test_group_counts_add_groups_of_the_same_type() -> None:
    from bigfruits.aws.commands.cluster import group_counts

    groups = [{"InstanceType": "m5.xlarge", "RequestedInstanceCount": 1},
              {"InstanceType": "m5.xlarge", "RequestedInstanceCount": 2}]
    assert group_counts(groups) == {"m5.xlarge": 3}


def test_status_costs_every_instance_of_the_default_cluster(aws_env, built_wheel) -> None:
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    out = run(["status"]).output
    three = describe_cost({"m5.xlarge": 3}).split(";")[0]
    assert three in out, out
