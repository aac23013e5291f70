"""Who we are on AWS and what we build there: frozen values made from the config file, the
environment and the command line (in that order of precedence, last wins), and the names of
everything we create (derived from the project, so a re-run or ``destroy`` finds the same ones).

Kept as plain data so every request builder is a pure function of it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from bigfruits.aws.core import resource_names
from bigfruits.aws.core.names import check_bucket, check_key_name, check_project, check_studio_name
from bigfruits.aws.core.tags import EMR_MANAGED_POLICIES_TAG, managed_tags
from bigfruits.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as _toml

APP_NAME = "bigfruits"
#: Environment variable that points at another config file (tests, CI, several accounts).
CONFIG_ENV = "BIGFRUITS_CONFIG"
#: Environment variable that points at another state directory.
STATE_DIR_ENV = "BIGFRUITS_STATE_DIR"
#: The newest EMR 7 release whose application versions were checked against what the nodes
#: need (docs/aws-audit.md): Python 3.11 (and 3.9), Spark 3.5.6 (constraints-emr7.txt pins
#: pyspark 3.5), Livy 0.8.0-incubating (the livy-conf keys of flavors.py). Released 2026-04-21:
#: https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-7130-release.html
DEFAULT_RELEASE = "emr-7.13.0"


def user_config_dir() -> Path:
    """The per-user config folder (XDG on Linux, the usual places elsewhere) via click."""
    import click

    return Path(click.get_app_dir(APP_NAME))


#: ``--project`` when none is given: the prefix and tag value of everything created.
DEFAULT_PROJECT = "bigfruits"


@dataclass(frozen=True)
class AwsSettings:
    """Everything a request builder needs; no clients, no network."""

    project: str = DEFAULT_PROJECT
    region: Optional[str] = None
    profile: Optional[str] = None
    bucket: Optional[str] = None
    release: str = DEFAULT_RELEASE
    master_type: str = "m5.xlarge"
    core_type: str = "m5.xlarge"
    core_count: int = 2
    idle_timeout_s: int = 3600
    key_name: Optional[str] = None
    #: The cluster's subnet (its VPC follows); None: the default VPC, or the Studio's subnet.
    subnet_id: Optional[str] = None
    ssh_user: str = "hadoop"
    state_file: Optional[Path] = None

    @property
    def key_pair_name(self) -> str:
        return self.key_name or resource_names.key_pair_name(self.project)

    def private_key_path(self) -> Path:
        return user_config_dir() / "keys" / f"{self.key_pair_name}.pem"

    def state_path(self) -> Path:
        """One state file per profile, region and project, so two accounts never mix and
        ``destroy --project a`` never takes what project b remembered for a's (the default
        project keeps the file name it always had)."""
        if self.state_file is not None:
            return Path(self.state_file)
        base = Path(os.environ.get(STATE_DIR_ENV) or user_config_dir() / "state")
        project = "" if self.project == DEFAULT_PROJECT else f"-project-{self.project}"
        return base / f"aws-{self.profile or 'default'}-{self.region or 'default'}{project}.json"


_INT_KEYS = ("core_count", "idle_timeout_s")
_KNOWN_KEYS = set(AwsSettings.__dataclass_fields__)


def default_bucket_name(project: str, account_id: str, region: str) -> str:
    """Bucket names are global: the account and region make ours unique and recognisable."""
    return f"{project}-{account_id}-{region}".lower()


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or user_config_dir() / "config.toml")


def read_config(path: Optional[Path] = None) -> Dict[str, Any]:
    """The ``[aws]`` table of the TOML config file, or ``{}`` when there is none."""
    path = path or config_path()
    if not path.is_file():
        return {}
    try:
        with open(path, "rb") as fh:
            data = _toml.load(fh)
    except (OSError, _toml.TOMLDecodeError) as exc:
        raise InputError(f"cannot read config file {path} ({exc})", "fix or remove it") from exc
    table = data.get("aws", {})
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise InputError(
            f"unknown keys in [aws] of {path}: {', '.join(unknown)}",
            f"use only: {', '.join(sorted(_KNOWN_KEYS))}",
        )
    return table


def build_settings(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> AwsSettings:
    """Config values, then the non-empty command-line overrides; the region falls back to
    the usual AWS environment variables (boto3 does the same for the profile)."""
    merged: Dict[str, Any] = {}
    for source in (config, overrides):
        merged.update({k: v for k, v in source.items() if v is not None})
    if "state_file" in merged:
        merged["state_file"] = Path(str(merged["state_file"])).expanduser()
    for key in _INT_KEYS:
        if key in merged:
            merged[key] = int(merged[key])
    if not merged.get("region"):
        merged["region"] = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    # Names AWS would refuse stop here, before any request (``core/names``).
    check_project(str(merged.get("project", AwsSettings.project)))
    if merged.get("bucket") is not None:
        check_bucket(str(merged["bucket"]))
    if merged.get("key_name") is not None:
        check_key_name(str(merged["key_name"]))
    return AwsSettings(**merged)


def parse_forward(spec: str) -> Tuple[int, int]:
    """``"9443"`` or ``"19443:9443"`` -> (local, remote)."""
    parts = spec.split(":")
    try:
        ports = [int(p) for p in parts]
    except ValueError:
        raise InputError(f"bad forward {spec!r}", "use LOCAL:REMOTE ports, e.g. 9443:9443") from None
    if len(ports) == 1:
        return ports[0], ports[0]
    if len(ports) == 2:
        return ports[0], ports[1]
    raise InputError(f"bad forward {spec!r}", "use LOCAL:REMOTE ports, e.g. 9443:9443")


# --- EMR Studio ----------------------------------------------------------------------------

#: A Studio accepts at most five subnets (CreateStudio API reference).
MAX_STUDIO_SUBNETS = 5

AUTH_MODES = ("IAM", "SSO")


def _studio_piece(piece: str) -> property:
    """A read-only name derived from the project, so every run finds the same resource."""
    return property(lambda self: resource_names.studio_piece_name(self.project, piece))


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
        check_project(self.project)
        if self.name is not None:
            check_studio_name(self.name)
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
        return self.name or resource_names.studio_name(self.project)

    #: Each piece's name: ``<project>-studio-<role>`` (the role's policy shares its name).
    service_role_name = _studio_piece("service")
    service_policy_name = _studio_piece("service")
    user_role_name = _studio_piece("user")
    user_policy_name = _studio_piece("user")
    workspace_sg_name = _studio_piece("workspace")
    engine_sg_name = _studio_piece("engine")

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
