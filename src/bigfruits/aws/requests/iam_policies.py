"""IAM policy documents: the cluster roles' trust, and EMR Studio's service and user roles
(least privilege).

Follows AWS's "Create an EMR Studio service role" and "Configure EMR Studio user permissions"
with two narrowings: S3 is limited to our bucket's ``studio/`` prefix, and the VPC and subnets
are named by ARN instead of requiring the ``for-use-with-amazon-emr-managed-policies`` tag on
them (the default VPC is not ours to tag). Our security groups do carry that tag.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

from bigfruits.aws.core.settings import StudioSettings
from bigfruits.aws.core.tags import EMR_MANAGED_POLICIES_TAG, PROJECT_TAG
from bigfruits.aws.requests.emr_serverless import LOGS as SERVERLESS_LOGS, SERVERLESS_PREFIX
from bigfruits.aws.requests.s3 import MODELS_PREFIX, OUTPUT_PREFIX, RAW_PREFIX, SECRETS_PREFIX

Policy = Dict[str, Any]

#: Every IAM role and policy we create lives under this path: listing the path finds ours,
#: and a role of the same name elsewhere is someone else's.
IAM_PATH = "/bigfruits/"

_EMR_TAG_ON_RESOURCE = {"StringEquals": {f"aws:ResourceTag/{EMR_MANAGED_POLICIES_TAG}": "true"}}
_EMR_TAG_IN_REQUEST = {"StringEquals": {f"aws:RequestTag/{EMR_MANAGED_POLICIES_TAG}": "true"}}


def _document(statements: List[Dict[str, Any]]) -> Policy:
    return {"Version": "2012-10-17", "Statement": statements}


def trust_policy(service: str) -> Policy:
    """The AWS service (EMR, EC2) may assume the role."""
    return _document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


def role_arn(account_id: str, role_name: str) -> str:
    return f"arn:aws:iam::{account_id}:role{IAM_PATH}{role_name}"


#: What AmazonElasticMapReduceforEC2Role grants a node besides S3, kept to what our nodes use
#: (EMR's own agents describe the cluster and instances, publish metrics); that managed policy
#: also grants s3:* on every bucket and DynamoDB/Kinesis/SNS/SQS/SDB/Glue we never use, and AWS
#: lists it for deprecation, asking for your own policy instead:
#: https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-iam-role-for-ec2.html
_NODE_SERVICE_ACTIONS = [
    "ec2:Describe*",
    "elasticmapreduce:Describe*", "elasticmapreduce:ListBootstrapActions",
    "elasticmapreduce:ListClusters", "elasticmapreduce:ListInstanceGroups",
    "elasticmapreduce:ListInstances", "elasticmapreduce:ListSteps",
    "cloudwatch:PutMetricData",
]


def node_policy(bucket: str) -> Policy:
    """The cluster nodes' own policy: our bucket only (the bootstrap reads the wheel, the
    pipeline reads raw/ and writes output/, EMR writes logs/, the password step deletes its
    object under secrets/), and the read-only EMR/EC2 calls a node makes. Nothing account-wide
    for S3: another --input bucket must grant the nodes' role itself.

    The S3 actions are the EMRFS set of AWS's least-privilege instance profile
    (https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-iam-role-for-ec2.html): objects,
    their versions and tags, multipart uploads, the bucket's listing and versioning state;
    scoped to our bucket. Left out of that set: ``s3:CreateBucket`` (the bucket exists before
    any cluster) and ``s3:PutBucketVersioning`` (a node has no reason to change it)."""
    return _document([
        {"Sid": "ListOurBucket", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads",
                    "s3:ListBucketVersions", "s3:GetBucketVersioning"],
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "ReadWriteOurObjects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts", "s3:GetObjectVersion", "s3:GetObjectTagging",
                    "s3:PutObjectTagging"],
         "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Sid": "EmrNodeServiceCalls", "Effect": "Allow", "Action": list(_NODE_SERVICE_ACTIONS),
         "Resource": "*"},
    ])


def pass_node_role_policy(node_role_arn: str) -> Policy:
    """What the EMR service role needs besides ``AmazonEMRServicePolicy_v2``: that policy passes
    only a role named ``EMR_EC2_DefaultRole`` to EC2 (its ``PassRoleForEC2`` statement:
    https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-iam-role.html), and our nodes'
    role has our name and path. Same condition as AWS's statement: only to EC2."""
    return _document([{
        "Sid": "PassOurNodeRoleToEC2", "Effect": "Allow", "Action": "iam:PassRole",
        "Resource": node_role_arn,
        "Condition": {"StringLike": {"iam:PassedToService": "ec2.amazonaws.com*"}},
    }])


def service_trust_policy(account_id: str, region: str = "*") -> Policy:
    """Only EMR, acting for this account (in ``region``, or any), may assume the service role
    (``aws:SourceAccount``/``aws:SourceArn`` guard against the confused deputy): the trust
    policy AWS gives for EMR's service role,
    https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-iam-role.html . The cluster
    service role takes any region (one role serves a project's clusters in every region);
    the Studio's, its own."""
    return _document([{
        "Effect": "Allow",
        "Principal": {"Service": "elasticmapreduce.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:elasticmapreduce:{region}:{account_id}:*"},
        },
    }])


def service_role_policy(settings: StudioSettings, vpc_id: str,
                        subnet_ids: Sequence[str]) -> Policy:
    """What Studio itself does: network interfaces between workspaces and the cluster, the
    workspace backups in S3, Git secrets. Statement ids follow AWS's sample policy."""
    bucket = settings.bucket
    subnets = [f"arn:aws:ec2:*:*:subnet/{subnet}" for subnet in subnet_ids]
    return _document([
        {"Sid": "AllowEMRReadOnlyActions", "Effect": "Allow",
         "Action": ["elasticmapreduce:ListInstances", "elasticmapreduce:DescribeCluster",
                    "elasticmapreduce:ListSteps"],
         "Resource": "*"},
        {"Sid": "AllowEC2ENIActionsWithEMRTags", "Effect": "Allow",
         "Action": ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
         "Resource": ["arn:aws:ec2:*:*:network-interface/*"],
         "Condition": _EMR_TAG_ON_RESOURCE},
        {"Sid": "AllowEC2ENIAttributeAction", "Effect": "Allow",
         "Action": ["ec2:ModifyNetworkInterfaceAttribute"],
         "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:network-interface/*",
                      "arn:aws:ec2:*:*:security-group/*"]},
        {"Sid": "AllowEC2SecurityGroupActionsWithEMRTags", "Effect": "Allow",
         "Action": ["ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
                    "ec2:DeleteNetworkInterfacePermission"],
         "Resource": "*", "Condition": _EMR_TAG_ON_RESOURCE},
        {"Sid": "AllowDefaultEC2SecurityGroupsCreationWithEMRTags", "Effect": "Allow",
         "Action": ["ec2:CreateSecurityGroup"],
         "Resource": ["arn:aws:ec2:*:*:security-group/*"], "Condition": _EMR_TAG_IN_REQUEST},
        {"Sid": "AllowDefaultEC2SecurityGroupsCreationInOurVPC", "Effect": "Allow",
         "Action": ["ec2:CreateSecurityGroup"],
         "Resource": [f"arn:aws:ec2:*:*:vpc/{vpc_id}"]},
        {"Sid": "AllowAddingEMRTagsDuringDefaultSecurityGroupCreation", "Effect": "Allow",
         "Action": ["ec2:CreateTags"],
         "Resource": "arn:aws:ec2:*:*:security-group/*",
         "Condition": {"StringEquals": {f"aws:RequestTag/{EMR_MANAGED_POLICIES_TAG}": "true",
                                        "ec2:CreateAction": "CreateSecurityGroup"}}},
        {"Sid": "AllowEC2ENICreationWithEMRTags", "Effect": "Allow",
         "Action": ["ec2:CreateNetworkInterface"],
         "Resource": ["arn:aws:ec2:*:*:network-interface/*"], "Condition": _EMR_TAG_IN_REQUEST},
        {"Sid": "AllowEC2ENICreationInOurSubnets", "Effect": "Allow",
         "Action": ["ec2:CreateNetworkInterface"], "Resource": subnets},
        {"Sid": "AllowEC2ENICreationWithOurSecurityGroups", "Effect": "Allow",
         "Action": ["ec2:CreateNetworkInterface"],
         "Resource": ["arn:aws:ec2:*:*:security-group/*"], "Condition": _EMR_TAG_ON_RESOURCE},
        {"Sid": "AllowAddingTagsDuringEC2ENICreation", "Effect": "Allow",
         "Action": ["ec2:CreateTags"],
         "Resource": "arn:aws:ec2:*:*:network-interface/*",
         "Condition": {"StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"}}},
        {"Sid": "AllowEC2ReadOnlyActions", "Effect": "Allow",
         "Action": ["ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeTags", "ec2:DescribeInstances", "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs"],
         "Resource": "*"},
        # Workspace collaboration: Studio looks up the IAM users/roles (and, with IAM Identity
        # Center, the directory users) a Workspace is shared with; the statement of AWS's sample
        # service role policy (https://docs.aws.amazon.com/emr/latest/ManagementGuide/
        # emr-studio-service-role.html). Read-only lookups; IAM has no resource scoping for them.
        {"Sid": "AllowWorkspaceCollaboration", "Effect": "Allow",
         "Action": ["iam:GetUser", "iam:GetRole", "iam:ListUsers", "iam:ListRoles",
                    "sso:GetManagedApplicationInstance", "sso-directory:SearchUsers"],
         "Resource": "*"},
        {"Sid": "AllowSecretsManagerReadOnlyActionsWithEMRTags", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue"],
         "Resource": "arn:aws:secretsmanager:*:*:secret:*", "Condition": _EMR_TAG_ON_RESOURCE},
        {"Sid": "AllowWorkspaceBackupInOurBucket", "Effect": "Allow",
         "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": [f"arn:aws:s3:::{bucket}/studio/*"]},
        {"Sid": "AllowListingOurBucket", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:GetEncryptionConfiguration"],
         "Resource": [f"arn:aws:s3:::{bucket}"]},
    ])


def user_trust_policy(settings: StudioSettings, account_id: str) -> Policy:
    """IAM mode: people of this account switch to the role, then open the Studio URL.
    IAM Identity Center mode: EMR assumes it for the mapped users (AssumeRole + SetContext)."""
    if settings.auth_mode == "SSO":
        return _document([{
            "Effect": "Allow",
            "Principal": {"Service": "elasticmapreduce.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:SetContext"],
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }])
    return _document([{
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "sts:AssumeRole",
    }])


def user_policy(settings: StudioSettings, account_id: str) -> Policy:
    """What a Studio user may do: workspaces and their clusters, our Studio only (by tag), pass
    the service role, read our bucket but its ``secrets/``. Used as the user role's policy and as the session policy
    of IAM Identity Center mappings."""
    region = settings.region
    return _document([
        {"Sid": "AllowWorkspacesAndClusterViews", "Effect": "Allow",
         "Action": ["elasticmapreduce:CreateEditor", "elasticmapreduce:DescribeEditor",
                    "elasticmapreduce:ListEditors", "elasticmapreduce:StartEditor",
                    "elasticmapreduce:StopEditor", "elasticmapreduce:DeleteEditor",
                    "elasticmapreduce:OpenEditorInConsole", "elasticmapreduce:AttachEditor",
                    "elasticmapreduce:DetachEditor", "elasticmapreduce:CreateRepository",
                    "elasticmapreduce:DescribeRepository", "elasticmapreduce:DeleteRepository",
                    "elasticmapreduce:ListRepositories", "elasticmapreduce:LinkRepository",
                    "elasticmapreduce:UnlinkRepository", "elasticmapreduce:DescribeCluster",
                    "elasticmapreduce:ListInstanceGroups", "elasticmapreduce:ListBootstrapActions",
                    "elasticmapreduce:ListClusters", "elasticmapreduce:ListSteps",
                    "elasticmapreduce:CreatePersistentAppUI",
                    "elasticmapreduce:DescribePersistentAppUI",
                    "elasticmapreduce:GetPersistentAppUIPresignedURL",
                    "elasticmapreduce:GetOnClusterAppUIPresignedURL",
                    "elasticmapreduce:ListStudios", "elasticmapreduce:DescribeStudio"],
         "Resource": "*"},
        {"Sid": "AllowOpeningOurStudioOnly", "Effect": "Allow",
         "Action": ["elasticmapreduce:CreateStudioPresignedUrl"],
         "Resource": f"arn:aws:elasticmapreduce:{region}:{account_id}:studio/*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/{PROJECT_TAG}": settings.project}}},
        {"Sid": "AllowGitSecretsTaggedForStudio", "Effect": "Allow",
         "Action": ["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
         "Resource": "arn:aws:secretsmanager:*:*:secret:*", "Condition": _EMR_TAG_IN_REQUEST},
        {"Sid": "AllowListingSecrets", "Effect": "Allow",
         "Action": ["secretsmanager:ListSecrets"], "Resource": "*"},
        {"Sid": "AllowPassingTheStudioServiceRole", "Effect": "Allow",
         "Action": ["iam:PassRole"],
         "Resource": role_arn(account_id, settings.service_role_name)},
        {"Sid": "AllowReadingOurBucket", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": f"arn:aws:s3:::{settings.bucket}"},
        {"Sid": "AllowReadingOurObjects", "Effect": "Allow",
         "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{settings.bucket}/*"},
        # ... but not the JupyterHub password create-cluster leaves for its step (requests/s3:
        # SECRETS_PREFIX): a Studio user has no business with another flavor's login. An
        # explicit Deny wins over any Allow, this policy's or another one's the role gets.
        {"Sid": "DenyReadingClusterSecrets", "Effect": "Deny",
         "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": f"arn:aws:s3:::{settings.bucket}/{SECRETS_PREFIX}*"},
        {"Sid": "AllowBucketPicker", "Effect": "Allow",
         "Action": ["s3:ListAllMyBuckets"], "Resource": "*"},
    ])


# --- EMR Serverless: the job runtime role ---------------------------------------------------

def serverless_trust_policy(account_id: str, application_arn: str) -> Policy:
    """Only EMR Serverless, running a job of *our application* in this account, may assume the
    job runtime role: ``aws:SourceAccount`` and ``aws:SourceArn`` guard against the confused
    deputy (EMR Serverless names the application as the source, as in its KMS and ECR
    examples: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/security-iam-runtime-role.html)."""
    return _document([{
        "Effect": "Allow",
        "Principal": {"Service": "emr-serverless.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": application_arn},
        },
    }])


#: What a job run reads (the images, the model, its archive and driver) and writes (the
#: pipeline's output, EMR Serverless's logs of the run) in our bucket.
SERVERLESS_READS = (RAW_PREFIX, MODELS_PREFIX, SERVERLESS_PREFIX, OUTPUT_PREFIX)
SERVERLESS_WRITES = (OUTPUT_PREFIX, SERVERLESS_LOGS)


def serverless_job_policy(bucket: str) -> Policy:
    """The job runtime role's only policy: our bucket, by prefix; nothing else (no Glue, no
    other bucket, no network). Writing ``output/`` includes deleting (the pipeline publishes
    from a staging folder beside its output) and multipart uploads (large Parquet files)."""
    prefixes = sorted(set(SERVERLESS_READS) | set(SERVERLESS_WRITES))
    return _document([
        {"Sid": "ListOurPrefixes", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}},
        {"Sid": "LocateOurBucket", "Effect": "Allow", "Action": ["s3:GetBucketLocation"],
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "ReadInputsModelsAndArchives", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{bucket}/{p}*" for p in SERVERLESS_READS]},
        {"Sid": "WriteOutputsAndLogs", "Effect": "Allow",
         "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts"],
         "Resource": [f"arn:aws:s3:::{bucket}/{p}*" for p in SERVERLESS_WRITES]},
    ])
