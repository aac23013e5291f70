"""Finding our things by their tags, for the APIs that filter on tags server-side (EC2)."""
from __future__ import annotations

from typing import Dict, List

from bigfruits.aws.request import managed_tags


def ours_filters(project: str) -> List[Dict[str, object]]:
    """EC2 ``Filters`` matching both of our tags."""
    return [{"Name": f"tag:{k}", "Values": [v]} for k, v in sorted(managed_tags(project).items())]


def tags_match(tags: Dict[str, str], project: str) -> bool:
    return all(tags.get(k) == v for k, v in managed_tags(project).items())


def tag_dict(tag_list_: List[Dict[str, str]]) -> Dict[str, str]:
    """``[{"Key": k, "Value": v}]`` -> ``{k: v}``."""
    return {t["Key"]: t["Value"] for t in tag_list_ or []}
