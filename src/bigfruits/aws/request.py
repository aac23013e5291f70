"""The one shape every AWS call takes: plain data built by pure functions, sent by one thin layer.

Builders (``bucket.py``, ``cluster.py``, ``studio.py`` …) return ``AwsRequest`` values and never
touch the network; the sender either performs them with an injected boto3 session or, for
``--dry-run``, prints them as one JSON object per line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List

#: Tag keys put on everything the tool creates, so ``destroy`` can find it without the state file.
MANAGED_TAG = "bigfruits:managed"
PROJECT_TAG = "bigfruits:project"


@dataclass(frozen=True)
class AwsRequest:
    """One botocore operation: ``service`` is the boto3 client name, ``operation`` the
    botocore operation name (``RunJobFlow``), ``params`` its exact keyword arguments."""

    service: str
    operation: str
    params: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {"service": self.service, "operation": self.operation, "params": self.params}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)


def managed_tags(project: str) -> Dict[str, str]:
    """The tags that mark a resource as ours (as a dict; see ``tag_list`` for AWS's list form)."""
    return {MANAGED_TAG: "true", PROJECT_TAG: project}


def tag_list(tags: Dict[str, str]) -> List[Dict[str, str]]:
    """``{"k": "v"}`` -> ``[{"Key": "k", "Value": "v"}]``, the form most AWS APIs take."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
