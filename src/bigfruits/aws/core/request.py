"""The one shape every AWS call takes: plain data built by pure functions, sent by one thin layer.

Builders (``requests/``) return ``AwsRequest`` values and never touch the network; the sender
(``core/send``) either performs them with an injected boto3 session or, for ``--dry-run``,
prints them as one JSON object per line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict


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
