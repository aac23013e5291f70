"""Where a run writes: everything goes to a staging folder beside the output, which is published
(renamed) only at the end, and ``manifest.json`` is written last, so a failed or interrupted
run never leaves output that looks complete. Works on any Hadoop file system (local, S3)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from typing import Any, Dict

from bigfruits.errors import OutputExistsError
from bigfruits.pipeline.ingest import hadoop_path, resolve_input


def output_exists(uri: str) -> OutputExistsError:
    return OutputExistsError(f"output already exists: {uri}",
                             "pass --overwrite to replace it, or choose another --output")


class OutputTarget:
    """The output folder of one run and its staging twin ``.<name>.staging-<run id>``."""

    def __init__(self, spark: Any, output: str, run_id: "str | None" = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._jvm = spark.sparkContext._jvm
        self.fs, self._final = hadoop_path(spark, resolve_input(output))
        parent, name = self._final.getParent(), self._final.getName()
        self._staging = self._jvm.org.apache.hadoop.fs.Path(parent, f".{name}.staging-{self.run_id}")
        self.final = self._final.toString()
        self.staging = self._staging.toString()
        self._local = tempfile.mkdtemp(prefix="bigfruits-")

    def check_free(self, overwrite: bool) -> None:
        """Fail before any work if the output exists and may not be replaced."""
        if self.fs.exists(self._final) and not overwrite:
            raise output_exists(self.final)

    def uri(self, relative: str) -> str:
        """Where a Spark writer puts ``relative`` while the run is in progress."""
        return f"{self.staging}/{relative}"

    def local_file(self, relative: str) -> str:
        """A local path for a small file (CSV, PNG, HTML) to be copied in by ``put``."""
        path = os.path.join(self._local, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def put(self, relative: str) -> None:
        """Copy the local small file ``relative`` into the staging folder."""
        dst = self._jvm.org.apache.hadoop.fs.Path(self._staging, relative)
        self.fs.copyFromLocalFile(False, True, self._jvm.org.apache.hadoop.fs.Path(
            "file://" + os.path.abspath(os.path.join(self._local, relative))), dst)

    def delete_staged(self, relative: str) -> None:
        self.fs.delete(self._jvm.org.apache.hadoop.fs.Path(self._staging, relative), True)

    def publish(self, manifest: Dict[str, Any], overwrite: bool) -> None:
        """Move the staging folder into place, then write the manifest that marks it complete."""
        self.check_free(overwrite)
        if self.fs.exists(self._final):
            self.fs.delete(self._final, True)
        if not self.fs.rename(self._staging, self._final):
            raise OSError(f"could not move {self.staging} to {self.final}")
        path = self.local_file("manifest.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2, sort_keys=True, default=str)
        self.fs.copyFromLocalFile(False, True, self._jvm.org.apache.hadoop.fs.Path("file://" + path),
                                  self._jvm.org.apache.hadoop.fs.Path(self._final, "manifest.json"))

    def discard(self) -> None:
        """Remove the staging folder (after a failure) and the local scratch space."""
        try:
            if self.fs.exists(self._staging):
                self.fs.delete(self._staging, True)
        finally:
            self.cleanup_local()

    def cleanup_local(self) -> None:
        shutil.rmtree(self._local, ignore_errors=True)
