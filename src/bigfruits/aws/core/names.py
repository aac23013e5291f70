"""The names a user gives us (``--project``, ``--bucket``, ``--name``, ``--key-name``), checked
against what AWS accepts before anything is sent: moto accepts almost any string, a real
account answers ``InvalidParameterValue`` or ``ValidationError`` half-way through a command.

The project is the strictest, because it becomes part of every name: S3 bucket names
(lowercase letters, digits, hyphens; https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html),
IAM role names (at most 64 characters of ``[\\w+=,.@-]``, our longest suffix is 17;
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html), EC2 security group
names and descriptions (``a-zA-Z0-9``, spaces and ``._-:/()#,@[]+=&;{}!$*``;
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html) and tag
values. ``tests/aws/test_aws_rules.py`` checks every request of every dry run against those
rules as botocore and the API references state them.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Optional

from bigfruits.errors import InputError

#: 1-32 characters: the default bucket ``<project>-<12-digit account>-<region>`` stays within
#: S3's 63, and ``<project>-emr-service-role`` within IAM's 64.
PROJECT_MAX = 32
_PROJECT = re.compile(rf"[a-z](?:[a-z0-9-]{{0,{PROJECT_MAX - 2}}}[a-z0-9])?")
PROJECT_RULE = (f"use 1-{PROJECT_MAX} lowercase letters, digits and hyphens, starting with a letter "
                "and not ending with a hyphen (it becomes part of bucket, role and group names)")

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: Reserved by S3 for access points, Object Lambda, directory and table buckets (bucketnamingrules).
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
BUCKET_RULE = ("use 3-63 lowercase letters, digits, hyphens and dots, starting and ending with a "
               "letter or digit (S3's bucket naming rules)")

#: EMR Studio names: the API takes up to 256 characters; we keep to the characters every other
#: name of ours uses, since the Studio's name also appears in its roles' descriptions.
STUDIO_NAME_MAX = 256
_STUDIO_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{STUDIO_NAME_MAX - 1}}}")
STUDIO_NAME_RULE = f"use 1-{STUDIO_NAME_MAX} letters, digits, hyphens and underscores"

#: EC2 key pair names: "up to 255 ASCII characters" (API_CreateKeyPair); we refuse control
#: characters and spaces too, since the name becomes a file name (``<name>.pem``).
_KEY_NAME = re.compile(r"[!-~]{1,255}")
KEY_NAME_RULE = "use 1-255 printable ASCII characters without spaces"


def check_project(project: str) -> str:
    if not _PROJECT.fullmatch(project):
        raise InputError(f"--project {project!r} is not a name AWS accepts everywhere we use it",
                         PROJECT_RULE)
    return project


def bucket_problem(name: str) -> Optional[str]:
    """Why S3 would refuse this bucket name, or None."""
    if not _BUCKET.fullmatch(name):
        return BUCKET_RULE
    if ".." in name:
        return "no two adjacent dots (S3's bucket naming rules)"
    try:
        ipaddress.IPv4Address(name)
        return "not formatted as an IP address (S3's bucket naming rules)"
    except ValueError:
        pass
    if name.startswith(_BUCKET_PREFIXES) or name.endswith(_BUCKET_SUFFIXES):
        return (f"no prefix {', '.join(_BUCKET_PREFIXES)} and no suffix {', '.join(_BUCKET_SUFFIXES)} "
                "(reserved by S3)")
    return None


def check_bucket(name: str) -> str:
    problem = bucket_problem(name)
    if problem:
        raise InputError(f"--bucket {name!r} is not a valid S3 bucket name", problem)
    return name


def check_studio_name(name: str) -> str:
    if not _STUDIO_NAME.fullmatch(name):
        raise InputError(f"--name {name!r} is not a Studio name we can use", STUDIO_NAME_RULE)
    return name


def check_key_name(name: str) -> str:
    if not _KEY_NAME.fullmatch(name):
        raise InputError(f"--key-name {name!r} is not a key pair name EC2 accepts", KEY_NAME_RULE)
    return name
