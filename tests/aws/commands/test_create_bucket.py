"""create-bucket against the moto server: what S3 itself reports about the bucket afterwards."""
from __future__ import annotations

from tests.support.aws.cli import run
from tests.support.aws.server import BUCKET, boto


def test_create_bucket_blocks_all_public_access_as_s3_reads_it_back(aws_env) -> None:
    """Protects the bucket's privacy end to end: GetPublicAccessBlock, read back from the moto
    server after ``create-bucket``, is exactly the four flags, all True; a flag dropped from the
    request (S3 then stores it as false) or set False fails, which ``all(values())`` would not
    catch for a missing key."""
    run(["create-bucket"])
    config = boto("s3").get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert config == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                      "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    encryption = boto("s3").get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in encryption["Rules"]] == ["AES256"]
