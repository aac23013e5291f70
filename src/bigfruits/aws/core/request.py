"""The one shape every AWS call takes: plain data built by pure functions, sent by one thin layer.

Builders (``requests/``) return ``AwsRequest`` values and never touch the network; the sender
(``core/send``) either performs them with an injected boto3 session or, for ``--dry-run``,
prints them as one JSON object per line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class AwsRequest:
    """One botocore operation: ``service`` is the boto3 client name, ``operation`` the
    botocore operation name (``RunJobFlow``), ``params`` its exact keyword arguments;
    ``region``, when set, the region whose endpoint answers it whatever the session's region
    (the Price List API has endpoints in a few regions only)."""

    service: str
    operation: str
    params: Dict[str, Any] = field(default_factory=dict)
    region: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        shown = {"service": self.service, "operation": self.operation, "params": self.params}
        return {**shown, "region": self.region} if self.region else shown

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)
