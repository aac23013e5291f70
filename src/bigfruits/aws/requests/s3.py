"""S3 requests: the bucket, its layout and its objects; nothing here sends anything.

Layout (prefixes under ``s3://<bucket>/``): the raw images, the pipeline's output (features and
PCA), EMR logs, notebooks (JupyterHub persistence), the bootstrap files (script, constraints,
wheel), and what every node installs and runs (the wheelhouse, the exported model).
"""
from __future__ import annotations

import json
from typing import Dict, List

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.tags import managed_tags, tag_list
from bigfruits.errors import InputError

RAW_PREFIX = "raw/"
OUTPUT_PREFIX = "output/"
LOGS_PREFIX = "logs/"
NOTEBOOKS_PREFIX = "notebooks/"
BOOTSTRAP_PREFIX = "bootstrap/"
#: What the nodes install and run, uploaded once and named by content: the model exported on
#: the user's machine (``models/<sha256 of the graph>/``) and the node's packages
#: (``wheelhouse/<sha256>.tar``), so no node downloads anything from the internet.
MODELS_PREFIX = "models/"
WHEELHOUSE_PREFIX = "wheelhouse/"
#: Empty "folder" markers so the layout is visible in the console before anything is written.
#: Nothing under output/: the pipeline publishes that folder, and refuses an existing one
#: without --overwrite (markers there made the first `submit` fail: "output already exists").
LAYOUT = (RAW_PREFIX, LOGS_PREFIX, NOTEBOOKS_PREFIX, BOOTSTRAP_PREFIX)


def run_output_key(run_id: str) -> str:
    """Each pipeline run writes to its own folder: a second run never meets an existing output."""
    return f"{OUTPUT_PREFIX}{run_id}/"


def split_s3_uri(uri: str) -> "tuple[str, str]":
    """``s3://bucket/key`` -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def cluster_location(uri: str, bucket: str, option: str) -> str:
    """``uri`` if a pipeline step on our clusters can use it, else a one-line InputError
    before anything starts (a transient cluster would otherwise bootstrap for ~10 minutes and
    then fail its step).

    - ``s3://`` only: the scheme EMR documents for EMRFS; ``s3a://`` is not EMRFS before
      EMR 7.10 (https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-s3a-migrate.html)
      and a local path would be the master's own disk, gone with the cluster.
    - in our bucket: the nodes' role may read and write that bucket only (``node_policy``).
    """
    scheme, sep, rest = uri.partition("://")
    suggestion = f"s3://{rest}" if sep and scheme in ("s3a", "s3n") else s3_uri(bucket, "…")
    if not sep or scheme != "s3":
        raise InputError(f"{option} {uri}: a step on EMR reads and writes s3:// URIs",
                         f"pass {option} {suggestion}")
    named, key = split_s3_uri(uri)
    if named != bucket:
        raise InputError(
            f"{option} {uri}: the cluster's role may only use the project's bucket s3://{bucket}/",
            f"pass {option} {s3_uri(bucket, key or '…')}"
            + (" (upload the images there with `bigfruits aws upload-dataset PATH`)" if option == "--input" else ""))
    return uri


def s3_uri(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}"


def tls_only_policy(bucket: str) -> str:
    """Deny any request that does not use TLS (AWS's recommended bucket policy)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        sort_keys=True,
    )


def create_bucket(bucket: str, region: str) -> AwsRequest:
    """us-east-1 is the one region that rejects a LocationConstraint naming itself."""
    params: Dict[str, object] = {"Bucket": bucket}
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    return AwsRequest("s3", "CreateBucket", params)


def secure_bucket(bucket: str, project: str) -> List[AwsRequest]:
    """Public access blocked, default encryption, TLS only, tagged, layout markers."""
    requests = [
        AwsRequest(
            "s3",
            "PutPublicAccessBlock",
            {
                "Bucket": bucket,
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            },
        ),
        AwsRequest(
            "s3",
            "PutBucketEncryption",
            {
                "Bucket": bucket,
                "ServerSideEncryptionConfiguration": {
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            },
        ),
        AwsRequest("s3", "PutBucketPolicy", {"Bucket": bucket, "Policy": tls_only_policy(bucket)}),
        AwsRequest(
            "s3",
            "PutBucketTagging",
            {"Bucket": bucket, "Tagging": {"TagSet": tag_list(managed_tags(project))}},
        ),
    ]
    requests += [AwsRequest("s3", "PutObject", {"Bucket": bucket, "Key": key}) for key in LAYOUT]
    return requests


def list_buckets() -> AwsRequest:
    return AwsRequest("s3", "ListBuckets", {})


def get_bucket_tagging(bucket: str) -> AwsRequest:
    return AwsRequest("s3", "GetBucketTagging", {"Bucket": bucket})


def list_objects(bucket: str, prefix: str) -> AwsRequest:
    """The first page; ``Sender.paged`` asks for the next ones."""
    return AwsRequest("s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": prefix})


def delete_objects(bucket: str, keys: List[str]) -> AwsRequest:
    """At most 1000 keys per request (S3's limit); callers chunk."""
    return AwsRequest(
        "s3",
        "DeleteObjects",
        {"Bucket": bucket, "Delete": {"Objects": [{"Key": k} for k in keys], "Quiet": True}},
    )


def delete_bucket(bucket: str) -> AwsRequest:
    return AwsRequest("s3", "DeleteBucket", {"Bucket": bucket})


def get_object(bucket: str, key: str) -> AwsRequest:
    return AwsRequest("s3", "GetObject", {"Bucket": bucket, "Key": key})


#: Where create-cluster leaves the JupyterHub password for the step that sets it.
SECRETS_PREFIX = "secrets/"


def jupyterhub_password_key(token: str) -> str:
    return f"{SECRETS_PREFIX}jupyterhub-password-{token}"


def put_jupyterhub_password(bucket: str, key: str, password: str) -> AwsRequest:
    """The password as a private, encrypted object in our bucket, for the step to read.

    Why not in the step's arguments: anyone allowed ``DescribeStep`` on the account reads
    those, for as long as the cluster is listed; this object is readable only by who may read
    our bucket, and the step deletes it once used.
    """
    return AwsRequest("s3", "PutObject", {
        "Bucket": bucket, "Key": key, "Body": f"jovyan:{password}\n",
        "ServerSideEncryption": "AES256",
    })
