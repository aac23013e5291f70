"""Every name we give a resource, derived from the project in one place, so each run finds the
same resources (and ``destroy`` knows them) whichever command made them."""
from __future__ import annotations


def service_role_name(project: str) -> str:
    """The cluster's EMR service role."""
    return f"{project}-emr-service-role"


def node_role_name(project: str) -> str:
    """The role the cluster's EC2 instances act as."""
    return f"{project}-emr-ec2-role"


def instance_profile_name(project: str) -> str:
    """The instance profile carries the node role and its name."""
    return node_role_name(project)


def ssh_group_name(project: str) -> str:
    """Our security group for port 22 on the master."""
    return f"{project}-ssh"


def key_pair_name(project: str) -> str:
    """The key pair, unless ``--key-name`` names another."""
    return f"{project}-key"


def studio_name(project: str) -> str:
    """The Studio, unless ``--name`` names it."""
    return f"{project}-studio"


def studio_piece_name(project: str, piece: str) -> str:
    """A Studio's role, policy or security group: ``<project>-studio-<piece>`` (a role's
    inline policy shares its role's name)."""
    return f"{project}-studio-{piece}"


def serverless_application_name(project: str) -> str:
    """The EMR Serverless application (``serverless create``)."""
    return f"{project}-serverless"


def serverless_role_name(project: str) -> str:
    """The job runtime role EMR Serverless assumes for our job runs (its inline policy shares
    its name)."""
    return f"{project}-serverless-job-role"
