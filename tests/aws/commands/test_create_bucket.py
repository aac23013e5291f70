"""create-bucket against the moto server: what S3 itself reports about the bucket afterwards."""
from __future__ import annotations

import json

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


def test_create_bucket_sends_the_tls_only_policy_and_s3_keeps_it(aws_env) -> None:
    """Protects encryption in transit: the bucket policy that denies every request without TLS
    is sent by ``create-bucket`` and is the bucket's policy as the moto server reads it back
    (a ``create-bucket`` that built it but never sent it passed before)."""
    run(["create-bucket"])
    policy = json.loads(boto("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"] == [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    # the layout markers went in after it, over TLS: the policy lets TLS through
    keys = [o["Key"] for o in boto("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sorted(keys) == ["bootstrap/", "logs/", "notebooks/", "raw/"]


def test_the_test_server_still_enforces_what_a_bucket_policy_denies_over_tls(aws_env) -> None:
    """Protects the test above from a server that accepts anything: the moto server started for
    these tests (tests/support/aws/moto_tls_server.py) leaves out only statements about
    requests without TLS; a Deny that applies over TLS still refuses the request."""
    import pytest
    from botocore.exceptions import ClientError

    run(["create-bucket"])
    s3 = boto("s3")
    s3.put_object(Bucket=BUCKET, Key="raw/kept.jpg", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="secrets/pw", Body=b"x")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/secrets/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    assert s3.get_object(Bucket=BUCKET, Key="raw/kept.jpg")["Body"].read() == b"x"
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=BUCKET, Key="secrets/pw")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_create_bucket_sends_the_lifecycle_rules_and_s3_keeps_them(aws_env) -> None:
    """Protects against logs, old wheelhouses and failed upload parts kept (and billed) until
    destroy: the rules are in the bucket's configuration as the moto server reads it back,
    and a second create-bucket (securing it again) leaves exactly the same rules."""
    from bigfruits.aws.requests import s3

    run(["create-bucket"])
    rules = boto("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    expected = s3.lifecycle_rules(BUCKET).params["LifecycleConfiguration"]["Rules"]
    assert {r["ID"]: (r["Filter"], r.get("Expiration"), r.get("AbortIncompleteMultipartUpload")) for r in rules} == {
        r["ID"]: (r["Filter"], r.get("Expiration"), r.get("AbortIncompleteMultipartUpload")) for r in expected}
    assert {r["ID"]: r["Status"] for r in rules} == {r["ID"]: "Enabled" for r in expected}
    run(["create-bucket"])
    assert boto("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"] == rules
