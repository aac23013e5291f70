"""Who we are on AWS and what we build there: one frozen value made from the config file,
the environment and the command line (in that order of precedence, last wins).

Kept as plain data so every request builder is a pure function of it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

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
#: Where ``upload-dataset`` looks when no path is given (a Fruits-360 ``Test/<class>/*.jpg`` tree).
DEFAULT_DATASET_PATH = Path(__file__).resolve().parent.parent / "data" / "sample"
DEFAULT_RELEASE = "emr-7.9.0"
DEFAULT_REGION = "eu-west-1"


def user_config_dir() -> Path:
    """The per-user config folder (XDG on Linux, the usual places elsewhere) via click."""
    import click

    return Path(click.get_app_dir(APP_NAME))


@dataclass(frozen=True)
class AwsSettings:
    """Everything a request builder needs; no clients, no network."""

    project: str = "bigfruits"
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
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def key_pair_name(self) -> str:
        return self.key_name or f"{self.project}-key"

    @property
    def name_prefix(self) -> str:
        """Prefix of every named thing we create, so it says whose it is."""
        return self.project

    def private_key_path(self) -> Path:
        return user_config_dir() / "keys" / f"{self.key_pair_name}.pem"

    def state_path(self) -> Path:
        """One state file per profile and region, so two accounts never mix."""
        if self.state_file is not None:
            return Path(self.state_file)
        base = Path(os.environ.get(STATE_DIR_ENV) or user_config_dir() / "state")
        return base / f"aws-{self.profile or 'default'}-{self.region or 'default'}.json"


_INT_KEYS = ("core_count", "idle_timeout_s")
_KNOWN_KEYS = {f for f in AwsSettings.__dataclass_fields__ if f not in ("extra",)}


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
    unknown = sorted(set(table) - _KNOWN_KEYS - {"extra"})
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
    return AwsSettings(**merged)


def with_bucket(settings: AwsSettings, bucket: str) -> AwsSettings:
    return replace(settings, bucket=bucket)


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
