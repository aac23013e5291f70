"""The pipeline's S3 listing (boto3, 1,000 keys a request) against the moto server: it sees
zero-byte objects (which Spark's binaryFile drops), skips folder markers, and writes paths the
way Spark does (``s3://bucket/key``, spaces unencoded)."""
from __future__ import annotations

from tests.support.aws.server import aws_env, boto, moto_tls, moto_url  # noqa: F401 (fixtures)

from bigfruits.pipeline.s3 import list_objects


def test_s3_listing_sees_every_object_and_pages(aws_env):
    s3 = boto("s3")
    s3.create_bucket(Bucket="fruits", CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    keys = [f"raw/Test/Apple Red 1/{i:04d}.jpg" for i in range(1205)]  # more than one page
    for key in keys:
        s3.put_object(Bucket="fruits", Key=key, Body=b"x" * 7)
    s3.put_object(Bucket="fruits", Key="raw/Test/Kiwi/empty.jpg", Body=b"")
    s3.put_object(Bucket="fruits", Key="raw/Test/Kiwi/", Body=b"")  # a console "folder"
    s3.put_object(Bucket="fruits", Key="rawer/other.jpg", Body=b"y")  # same prefix, other folder

    for scheme in ("s3", "s3a"):
        objects = list(list_objects(f"{scheme}://fruits/raw"))
        listed = {path: size for path, size, _ in objects}
        assert all(stamp.startswith("etag:") for _, _, stamp in objects)  # the identity --reuse compares
        assert len(listed) == 1206
        assert listed[f"{scheme}://fruits/raw/Test/Apple Red 1/0000.jpg"] == 7
        assert listed[f"{scheme}://fruits/raw/Test/Kiwi/empty.jpg"] == 0
        assert f"{scheme}://fruits/rawer/other.jpg" not in listed
