"""What we created, remembered in a small JSON file (one per profile and region).

Each resource is recorded under its *kind* (``bucket``, ``cluster``, ``key-pair``...) with its
id and a few attributes; ``destroy`` reads it, and the tags cover the case where it is lost.
Writes go to a temporary file then replace the old one, so a crash never leaves half a file.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from bigfruits.errors import InputError

# The single values remembered besides the resources (``State.get``/``State.set``).
#: The cluster commands act on when no --cluster-id is given.
CURRENT_CLUSTER = "cluster"
#: The bucket ``create-bucket`` made (``ctx.bucket()`` prefers it to the derived name).
CURRENT_BUCKET = "bucket"
#: The last pipeline step submitted, and where it writes (``logs``, ``download-results``).
LAST_STEP = "last_step"
LAST_OUTPUT = "last_output"
#: The last EMR Serverless job run (``serverless status/logs/cancel``): "<application id>/<job run id>".
LAST_SERVERLESS_JOB = "serverless_job"
#: The background SSH tunnel: its pid and control socket.
TUNNEL_PID = "tunnel_pid"
TUNNEL_CONTROL = "tunnel_control"


class State:
    def __init__(self, path: Path, dry_run: bool = False) -> None:
        self.path = Path(path)
        self.dry_run = dry_run
        self._data: Dict[str, Any] = self._load()

    def _load(self) -> Dict[str, Any]:
        if not self.path.is_file():
            return {"resources": {}}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(
                f"state file {self.path} is unreadable ({exc})",
                "move it away; `destroy` still finds our resources by their tags",
            ) from exc
        data.setdefault("resources", {})
        return data

    def save(self) -> None:
        """A dry run remembers nothing."""
        if self.dry_run:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=str(self.path.parent), prefix=".state-")
        with os.fdopen(fd, "w") as fh:
            json.dump(self._data, fh, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    # -- resources -------------------------------------------------------------------------
    def add(self, kind: str, resource_id: str, **attrs: Any) -> None:
        items = self._data["resources"].setdefault(kind, {})
        items[resource_id] = {**items.get(resource_id, {}), **attrs}
        self.save()

    def remove(self, kind: str, resource_id: str) -> None:
        items = self._data["resources"].get(kind, {})
        if items.pop(resource_id, None) is not None:
            if not items:
                self._data["resources"].pop(kind, None)
            self.save()

    def ids(self, kind: str) -> List[str]:
        return sorted(self._data["resources"].get(kind, {}))

    def attrs(self, kind: str, resource_id: str) -> Dict[str, Any]:
        return dict(self._data["resources"].get(kind, {}).get(resource_id, {}))

    def kinds(self) -> List[str]:
        return sorted(self._data["resources"])

    # -- single values (the current cluster, the bucket, the tunnel) -------------------------
    def get(self, key: str, default: Optional[Any] = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value
        self.save()
