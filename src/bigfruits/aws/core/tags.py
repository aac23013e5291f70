"""Our tags: what marks a resource as ours, and finding our things by them."""
from __future__ import annotations

from typing import Dict, List

#: Tag keys put on everything the tool creates, so ``destroy`` can find it without the state file.
MANAGED_TAG = "bigfruits:managed"
PROJECT_TAG = "bigfruits:project"
#: The tag EMR's v2 managed policies and the Studio service role policy look for on security
#: groups, network interfaces and clusters (see AWS's "Create an EMR Studio service role").
EMR_MANAGED_POLICIES_TAG = "for-use-with-amazon-emr-managed-policies"


def managed_tags(project: str) -> Dict[str, str]:
    """The tags that mark a resource as ours (as a dict; see ``tag_list`` for AWS's list form)."""
    return {MANAGED_TAG: "true", PROJECT_TAG: project}


def tag_list(tags: Dict[str, str]) -> List[Dict[str, str]]:
    """``{"k": "v"}`` -> ``[{"Key": "k", "Value": "v"}]``, the form most AWS APIs take."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tag_dict(tag_list_: List[Dict[str, str]]) -> Dict[str, str]:
    """``[{"Key": k, "Value": v}]`` -> ``{k: v}``."""
    return {t["Key"]: t["Value"] for t in tag_list_ or []}


def ours_filters(project: str) -> List[Dict[str, object]]:
    """EC2 ``Filters`` matching both of our tags (EC2 filters on tags server-side)."""
    return [{"Name": f"tag:{k}", "Values": [v]} for k, v in sorted(managed_tags(project).items())]


def tags_match(tags: Dict[str, str], project: str) -> bool:
    return all(tags.get(k) == v for k, v in managed_tags(project).items())


def is_ours(tag_set: List[Dict[str, str]], project: str) -> bool:
    """Whether AWS's ``[{"Key", "Value"}]`` tags carry both of ours."""
    return tags_match(tag_dict(tag_set), project)
