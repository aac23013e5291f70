"""What a cluster of ours can be, checked before any request (``create-cluster`` and ``run`` call
``check_cluster_settings`` first): a real account refuses the first two only at RunJobFlow, after
the tags, roles and uploads are done, and the last two start clusters whose every node fails its
bootstrap after about ten billed minutes. botocore states none of these; moto accepts them all.

- The idle timeout: EMR's auto-termination takes 60 to 604,800 seconds (7 days), else RunJobFlow
  answers ValidationException:
  https://docs.aws.amazon.com/emr/latest/APIReference/API_AutoTerminationPolicy.html
- The release: the bootstrap is written for Amazon Linux 2023 (``dnf``), which is EMR 7, and
  installs Python 3.11, which EMR lists from 7.1.0 on (7.0.0 has 3.9 only):
  https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-release-app-versions-7.x.html
- The instance types: the wheelhouse holds manylinux x86_64 wheels only
  (``node_files.NODE_PLATFORMS``), so AWS Graviton (Arm) types cannot run our nodes; EMR Studio
  does not support Graviton clusters either ("Feature limitations":
  https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-studio-considerations.html). A
  Graviton type is told by its name: a ``g`` right after the generation (m6g, c7gn, r8gd, t4g,
  x2gd, im4gn, is4gen, hpc7g), and a1, the first Arm generation
  (https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html).
"""
from __future__ import annotations

import re
from typing import Optional

from bigfruits.aws.core.settings import DEFAULT_RELEASE, AwsSettings
from bigfruits.errors import InputError

IDLE_TIMEOUT_MIN_S, IDLE_TIMEOUT_MAX_S = 60, 604_800
#: EMR 7.1.0 and later 7.x releases
_RELEASE = re.compile(r"emr-7\.(\d+)\.(\d+)")
_GRAVITON_FAMILY = re.compile(r"[a-z]+\d+g[a-z0-9-]*|a1")


def idle_timeout_problem(seconds: int) -> Optional[str]:
    if IDLE_TIMEOUT_MIN_S <= seconds <= IDLE_TIMEOUT_MAX_S:
        return None
    return (f"--idle-timeout {seconds}: EMR's auto-termination takes {IDLE_TIMEOUT_MIN_S} to "
            f"{IDLE_TIMEOUT_MAX_S} seconds (7 days)")


def release_problem(release: str) -> Optional[str]:
    found = _RELEASE.fullmatch(release)
    if found and int(found.group(1)) >= 1:
        return None
    return (f"--release {release}: the nodes' bootstrap needs EMR 7.1.0 or a later 7.x release "
            "(Amazon Linux 2023 with Python 3.11)")


def is_graviton(instance_type: str) -> bool:
    return bool(_GRAVITON_FAMILY.fullmatch(instance_type.split(".", 1)[0].lower()))


def check_cluster_settings(settings: AwsSettings) -> None:
    """One ``InputError`` for the first setting AWS or our nodes would refuse (see above)."""
    problem = release_problem(settings.release)
    if problem:
        raise InputError(problem, f"pass --release emr-7.x.y (7.1.0 or later), e.g. {DEFAULT_RELEASE}")
    problem = idle_timeout_problem(settings.idle_timeout_s)
    if problem:
        raise InputError(problem, f"pass --idle-timeout between {IDLE_TIMEOUT_MIN_S} and {IDLE_TIMEOUT_MAX_S}")
    for option, instance_type in (("--master-type", settings.master_type), ("--core-type", settings.core_type)):
        if is_graviton(instance_type):
            raise InputError(
                f"{option} {instance_type} is an AWS Graviton (Arm) type: the nodes' packages are "
                "built for x86_64 only, and EMR Studio does not support Graviton clusters",
                f"pass an x86_64 type instead, e.g. {option} m5.xlarge (or m6i, m7i, c6i, r6i)")
