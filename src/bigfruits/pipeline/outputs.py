"""Where a run writes: everything goes to a staging folder beside the output, which is published
only at the end, and ``manifest.json`` is written last, so a failed or interrupted run never
leaves output that looks complete. Works on any Hadoop file system (local, HDFS, S3).

Publishing, in this order: the new result is complete in staging; with ``--overwrite`` the old
``manifest.json`` goes first (the old output stops looking complete), then the old output; the
staging folder moves into place; the manifest is written last. Where a directory rename is
atomic (local, HDFS) the move is one rename. Object stores (``s3://``, ``s3a://``) have no
rename: S3A's is a copy and delete per object, so a failure midway would leave part of the
result in each place; there the files are copied and the staging folder is deleted only after
the manifest is written. A publish that fails midway keeps the staging folder and says where it is.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from typing import Any, Dict

from bigfruits.errors import BigfruitsError, OutputExistsError
from bigfruits.pipeline.hadoop_fs import absolute_uri, copy, hadoop_path, jvm_path, list_files


#: File systems whose directory rename is atomic: there publishing is one rename.
ATOMIC_RENAME_SCHEMES = ("file", "hdfs", "viewfs")


class PublishError(BigfruitsError, OSError):
    """Publishing failed midway: the output is incomplete (no manifest), staging is complete."""


def output_exists(uri: str) -> OutputExistsError:
    return OutputExistsError(f"output already exists: {uri}",
                             "pass --overwrite to replace it, or choose another --output")


class OutputTarget:
    """The output folder of one run and its staging twin ``.<name>.staging-<run id>``."""

    def __init__(self, spark: Any, output: str, run_id: "str | None" = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._spark = spark
        #: set once publishing starts: from then on the staging folder holds the only complete result
        self._keep_staging = False
        self.fs, self._final = hadoop_path(spark, absolute_uri(output))
        parent, name = self._final.getParent(), self._final.getName()
        self._staging = jvm_path(spark, parent, f".{name}.staging-{self.run_id}")
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
        dst = self._path(self._staging, relative)
        self.fs.copyFromLocalFile(False, True, self._path(
            "file://" + os.path.abspath(os.path.join(self._local, relative))), dst)

    def delete_staged(self, relative: str) -> None:
        self.fs.delete(self._path(self._staging, relative), True)

    def write_single_csv(self, frame: Any, relative: str) -> None:
        """Write ``frame`` (one partition) as the one CSV file ``relative`` with a header:
        Spark writes a folder holding one part file, which is moved to ``relative``."""
        folder = f"_{relative}.parts"
        frame.write.option("header", True).csv(self.uri(folder))
        parts = [status.getPath() for status in list_files(self.fs, self._path(self._staging, folder))
                 if status.getPath().getName().startswith("part-")]
        if len(parts) != 1:
            raise RuntimeError(f"expected one part file for {relative}, Spark wrote {len(parts)}")
        if not self.fs.rename(parts[0], self._path(self._staging, relative)):
            raise OSError(f"could not move {parts[0].toString()} to {self.uri(relative)}")
        self.delete_staged(folder)
        # a local file system moves the part file's checksum along: not a file for the user
        self.fs.delete(self._path(self._staging, f".{relative}.crc"), False)

    def publish(self, manifest: Dict[str, Any], overwrite: bool) -> None:
        """Move the staging folder into place, then write the manifest that marks it complete
        (the order and the guarantees: see the module's docstring)."""
        self.check_free(overwrite)
        path = self.local_file("manifest.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2, sort_keys=True, default=str)
        self._keep_staging = True
        try:
            if self.fs.exists(self._final):
                self.fs.delete(self._path(self._final, "manifest.json"), False)
                self.fs.delete(self._final, True)
            copied = self._move_into_place()
            self.fs.copyFromLocalFile(False, True, self._path("file://" + path),
                                      self._path(self._final, "manifest.json"))
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise PublishError(
                f"publishing {self.final} failed midway ({first}); it has no manifest.json, so it is "
                f"not a complete output",
                f"the complete new result is in {self.staging}: copy it to {self.final}, "
                "or run again with --overwrite") from exc
        if copied:
            self.fs.delete(self._staging, True)
        self._keep_staging = False

    def _path(self, parent: Any, child: "str | None" = None) -> Any:
        return jvm_path(self._spark, parent, child)

    def _move_into_place(self) -> bool:
        """Rename where that is atomic; elsewhere copy every staged file (True: staging remains)."""
        scheme = self.final.split(":", 1)[0]  # a qualified path: it always has a scheme
        if scheme in ATOMIC_RENAME_SCHEMES:
            if not self.fs.rename(self._staging, self._final):
                raise OSError(f"could not move {self.staging} to {self.final}")
            return False
        prefix = self._staging.toString() + "/"  # Hadoop's Path never ends with "/" (but a root)
        staged = [status.getPath().toString() for status in list_files(self.fs, self._staging)]
        for source in staged:
            self._copy_file(source, self._path(self._final, source[len(prefix):]))
        return True

    def _copy_file(self, source: str, destination: Any) -> None:
        if not copy(self._spark, self.fs, self._path(source), self.fs, destination):
            raise OSError(f"could not copy {source} to {destination.toString()}")

    def discard(self) -> None:
        """Remove the staging folder (after a failure) and the local scratch space; a staging
        folder whose publishing failed midway is kept: it holds the only complete result."""
        try:
            if not self._keep_staging and self.fs.exists(self._staging):
                self.fs.delete(self._staging, True)
        finally:
            self.cleanup_local()

    def cleanup_local(self) -> None:
        shutil.rmtree(self._local, ignore_errors=True)
