"""``destroy`` removes a cluster's security group only once the cluster is gone.

moto deletes a security group whatever still uses it; EC2 refuses with DependencyViolation while
a (not yet terminated) cluster's instances hold it. ``Ec2RefusesGroupsInUse`` below stands in
for that refusal, which moto does not raise, so the order is tested as AWS would enforce it.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Tuple

import boto3
import pytest
from botocore.exceptions import ClientError

from bigfruits.aws.core.botocore_errors import translate
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import Sender
from bigfruits.aws.requests import ec2
from bigfruits.errors import AwsError
from tests.support.aws.cli import injected, run
from tests.support.aws.server import REGION, MotoSender, boto, nothing_of_ours_left


class Ec2RefusesGroupsInUse(MotoSender):
    """Moto underneath, plus two things real AWS does and moto does not:

    - DeleteSecurityGroup fails with DependencyViolation while a cluster that uses the group
      (as master/core group, managed or additional) is not TERMINATED;
    - a cluster asked to terminate is TERMINATING at the first DescribeCluster afterwards and
      TERMINATED only from the second (moto's is TERMINATED at once), so a destroy that does
      not wait for termination is caught too.
    """

    def __init__(self, inner: Sender) -> None:
        super().__init__(inner)
        self.terminating: Dict[str, int] = {}
        self.refused: List[str] = []

    def _state(self, cluster_id: str, moto_state: str) -> str:
        return "TERMINATING" if self.terminating.get(cluster_id, 0) > 0 else moto_state

    def _clusters_using(self, group_id: str) -> List[str]:
        emr = boto("emr")
        users = []
        for summary in emr.list_clusters()["Clusters"]:
            found = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
            attrs = found.get("Ec2InstanceAttributes", {})
            groups = {attrs.get("EmrManagedMasterSecurityGroup"), attrs.get("EmrManagedSlaveSecurityGroup"),
                      *attrs.get("AdditionalMasterSecurityGroups", []),
                      *attrs.get("AdditionalSlaveSecurityGroups", [])}
            if group_id in groups and not self._state(found["Id"], found["Status"]["State"]).startswith("TERMINATED"):
                users.append(found["Id"])
        return users

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        if request.operation == "DeleteSecurityGroup":
            users = self._clusters_using(request.params["GroupId"])
            if users:
                self.refused.append(request.params["GroupId"])
                error = ClientError({"Error": {"Code": "DependencyViolation", "Message":
                                               f"resource {request.params['GroupId']} has a dependent object"}},
                                    "DeleteSecurityGroup")
                raise translate(error, "ec2", "DeleteSecurityGroup")
        answer = super().send(request)
        if request.operation == "TerminateJobFlows":
            for cluster_id in request.params["JobFlowIds"]:
                self.terminating[cluster_id] = 1
        elif request.operation == "DescribeCluster" and self.terminating.get(request.params["ClusterId"], 0) > 0:
            answer = copy.deepcopy(answer)
            answer["Cluster"]["Status"]["State"] = "TERMINATING"
            self.terminating[request.params["ClusterId"]] -= 1
        return answer


def _our_ssh_group() -> str:
    [group] = boto("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["bigfruits-ssh"]}])["SecurityGroups"]
    return str(group["GroupId"])


def test_the_fake_refuses_to_delete_a_group_a_live_cluster_uses(aws_env, built_wheel) -> None:
    """Protects the destroy-order test below from passing vacuously: with a live cluster on
    our SSH group, the fake answers DeleteSecurityGroup with EC2's DependencyViolation (and
    the group stays), where moto alone would delete it."""
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    group = _our_ssh_group()
    fake = Ec2RefusesGroupsInUse(Sender(boto3.Session(region_name=REGION)))
    with pytest.raises(AwsError) as refused:
        fake.send(ec2.delete_security_group(group))
    assert refused.value.code == "DependencyViolation"
    assert fake.refused == [group] and _our_ssh_group() == group
    run(["terminate"])


def test_destroy_deletes_the_security_group_only_after_its_cluster_terminated(aws_env, built_wheel) -> None:
    """Protects the destroy order: clusters are terminated *and waited for* before the
    security group they use is deleted. Deleting the group first (or not waiting for
    TERMINATED) gets DependencyViolation from the fake, as from EC2, and destroy fails."""
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    cluster_id = boto("emr").list_clusters()["Clusters"][0]["Id"]
    group = _our_ssh_group()
    fakes: List[Ec2RefusesGroupsInUse] = []

    def fake(sender: Sender) -> Sender:
        fakes.append(Ec2RefusesGroupsInUse(sender))
        return fakes[-1]

    out = run(["destroy", "--yes"], injected(fake)).output
    assert fakes[0].refused == []
    assert f"removed cluster {cluster_id}" in out and f"removed security-group {group}" in out
    assert out.index(f"removed cluster {cluster_id}") < out.index(f"removed security-group {group}")
    left = nothing_of_ours_left()
    assert left == {k: [] for k in left}, left


class TerminatesSlowly(Ec2RefusesGroupsInUse):
    """The fake above, consistent in ListClusters too (a cluster told to terminate is listed
    among the active ones until a DescribeCluster has answered TERMINATED), and recording, at
    each DeleteTags, the clusters it still had as not terminated."""

    def __init__(self, inner: Sender) -> None:
        super().__init__(inner)
        self.untagged_while: List[Tuple[List[str], List[str]]] = []

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        if request.operation == "DeleteTags":
            alive = sorted(c for c, polls in self.terminating.items() if polls > 0)
            self.untagged_while.append((list(request.params["Resources"]), alive))
        answer = super().send(request)
        if request.operation == "ListClusters":
            listed = {c["Id"] for c in answer.get("Clusters", [])}
            answer = copy.deepcopy(answer)
            answer["Clusters"] += [{"Id": c} for c, polls in self.terminating.items()
                                   if polls > 0 and c not in listed]
        return answer


def test_destroy_takes_the_emr_tags_back_only_after_the_cluster_terminated(aws_env, built_wheel) -> None:
    """Protects the cluster while it ends: the EMR tag we added to the default VPC and subnet
    goes only once EMR has answered TERMINATED (EMR still acts on the network while a cluster
    terminates); the fake keeps the cluster TERMINATING for one poll after the request."""
    run(["create-bucket"])
    out = run(["create-cluster", "--yes", "--wheel", str(built_wheel)]).output
    assert "for EMR's service policy" in out
    fakes: List[TerminatesSlowly] = []
    result = run(["destroy", "--yes"], injected(lambda sender: fakes.append(TerminatesSlowly(sender)) or fakes[-1]),
                 expect_ok=False)
    untagged = [resource for resources, _ in fakes[0].untagged_while for resource in resources]
    assert [alive for _, alive in fakes[0].untagged_while] == [[], []], fakes[0].untagged_while
    assert {r.split("-")[0] for r in untagged} == {"vpc", "subnet"}, fakes[0].untagged_while
    assert result.exit_code == 0, result.output
