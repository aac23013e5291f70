"""Just enough of an AwsContext for the upload procedures' tests (tests/aws/procedures): a
bucket's keys in memory; stands in for S3 where the tests check which keys get which bytes
and what is uploaded twice (the moto tests check the real requests)."""
from __future__ import annotations

from pathlib import Path

from bigfruits.aws.core.send import Sender


class UploadBucket(Sender):
    """Just enough of an AwsContext for uploads: a bucket's keys, and what was uploaded (a real
    ``Sender`` whose ``send`` answers ListObjectsV2 from those keys)."""

    dry_run = False

    def __init__(self) -> None:
        super().__init__(session=None)
        self.keys: dict = {}
        self.uploads: list = []
        self.sender = self

    def bucket(self) -> str:
        return "b"

    def send(self, request):  # ListObjectsV2 only
        prefix = request.params["Prefix"]
        return {"Contents": [{"Key": k, "Size": 1, "ETag": "x"} for k in self.keys if k.startswith(prefix)]}

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        self.uploads.append(key)
        self.keys[key] = Path(path).read_bytes()

    def echo(self, line: str) -> None:
        pass
