"""upload-dataset against the moto server: images only reach raw/ (what it left is said), and
an upload S3 refuses is one line naming the operation and AWS's answer, not boto3's traceback."""
from __future__ import annotations

import json

from tests.support.aws.cli import make_dataset, run
from tests.support.aws.server import BUCKET, boto


def test_only_images_are_uploaded_and_the_rest_is_named(aws_env, tmp_path) -> None:
    data = make_dataset(tmp_path / "fruits") / "Test"
    (data / "LICENSE").write_text("MIT")
    (data / "apple" / "notes.txt").write_text("n")
    (data / "apple" / ".DS_Store").write_bytes(b"x")
    run(["create-bucket"])
    out = run(["upload-dataset", str(data)]).output
    assert "not uploaded (not input images): 1 hidden (a path part starts with '.' or '_'), " \
           "2 not .jpg/.jpeg/.png" in out, out
    listed = boto("s3").list_objects_v2(Bucket=BUCKET, Prefix="raw/")["Contents"]
    assert sorted(o["Key"] for o in listed if not o["Key"].endswith("/")) == [
        "raw/apple/0.jpg", "raw/apple/1.jpg", "raw/banana/0.jpg", "raw/banana/1.jpg", "raw/banana/2.jpg"]


def test_an_upload_s3_refuses_is_one_line_with_aws_answer(aws_env, tmp_path) -> None:
    """boto3's transfer manager wraps S3's 403 in S3UploadFailedError; the user reads the
    operation and AWS's code, then what to do (exit 1 from click's runner: a BigfruitsError)."""
    data = make_dataset(tmp_path / "fruits") / "Test"
    run(["create-bucket"])
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                                                    "Resource": f"arn:aws:s3:::{BUCKET}/raw/*"}]}
    boto("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(deny))
    result = run(["upload-dataset", str(data)], expect_ok=False)
    assert result.exit_code != 0
    message = str(result.exception)
    assert type(result.exception).__name__ == "AwsError", repr(result.exception)
    assert message.startswith("s3 PutObject: ") and ("403" in message or "AccessDenied" in message), message
    assert "\n" not in message
