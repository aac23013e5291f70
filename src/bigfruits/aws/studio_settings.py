"""What an EMR Studio set-up is made of, and the names of every piece we create.

All names derive from the project, so a second run finds the same resources (idempotence) and
``destroy`` knows exactly what to look for, with or without the state file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from bigfruits.aws.request import managed_tags
from bigfruits.errors import InputError

#: The tag EMR's v2 managed policies and the Studio service role policy look for on security
#: groups, network interfaces and clusters (see AWS's "Create an EMR Studio service role").
EMR_MANAGED_POLICIES_TAG = "for-use-with-amazon-emr-managed-policies"

#: Every IAM role and policy we create lives under this path: listing the path finds ours,
#: and a role of the same name elsewhere is someone else's.
IAM_PATH = "/bigfruits/"

#: A Studio accepts at most five subnets (CreateStudio API reference).
MAX_STUDIO_SUBNETS = 5

#: The port the workspace talks to the cluster's Jupyter Enterprise Gateway on.
ENGINE_PORT = 18888

AUTH_MODES = ("IAM", "SSO")


@dataclass(frozen=True)
class StudioSettings:
    """The user's choices for ``create-studio``; everything else is derived."""

    project: str
    bucket: str
    region: str
    auth_mode: str = "IAM"
    vpc_id: Optional[str] = None
    subnet_ids: Tuple[str, ...] = ()
    idc_instance_arn: Optional[str] = None
    sso_users: Tuple[str, ...] = ()
    sso_groups: Tuple[str, ...] = ()
    name: Optional[str] = None

    def __post_init__(self) -> None:
        if self.auth_mode not in AUTH_MODES:
            raise InputError(f"unknown Studio auth mode {self.auth_mode!r}",
                             "use --auth-mode IAM (default) or SSO (IAM Identity Center)")
        if (self.sso_users or self.sso_groups) and self.auth_mode != "SSO":
            raise InputError("--sso-user/--sso-group need IAM Identity Center",
                             "add --auth-mode SSO, or drop them (IAM mode uses IAM permissions)")
        if self.subnet_ids and not self.vpc_id:
            raise InputError("--subnet-id given without --vpc-id",
                             "pass the subnets' VPC with --vpc-id, or neither to use the default VPC")
        if len(self.subnet_ids) > MAX_STUDIO_SUBNETS:
            raise InputError(f"{len(self.subnet_ids)} subnets given",
                             f"an EMR Studio accepts at most {MAX_STUDIO_SUBNETS}")

    @property
    def studio_name(self) -> str:
        return self.name or f"{self.project}-studio"

    @property
    def service_role_name(self) -> str:
        return f"{self.project}-studio-service"

    @property
    def user_role_name(self) -> str:
        return f"{self.project}-studio-user"

    @property
    def user_policy_name(self) -> str:
        return f"{self.project}-studio-user"

    @property
    def service_policy_name(self) -> str:
        return f"{self.project}-studio-service"

    @property
    def workspace_sg_name(self) -> str:
        return f"{self.project}-studio-workspace"

    @property
    def engine_sg_name(self) -> str:
        return f"{self.project}-studio-engine"

    @property
    def default_s3_location(self) -> str:
        """Workspaces and notebooks are backed up here, so they outlive every cluster."""
        return f"s3://{self.bucket}/studio/"

    @property
    def tags(self) -> Dict[str, str]:
        return managed_tags(self.project)

    @property
    def security_group_tags(self) -> Dict[str, str]:
        """Ours, plus the tag the Studio service role's tag-scoped EC2 statements require."""
        return {**self.tags, EMR_MANAGED_POLICIES_TAG: "true"}
