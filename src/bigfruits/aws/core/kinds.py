"""The kinds of resource we create, each under the name the state file records it by.

One list for the whole tool: the commands that create a resource record it under its kind, and
``destroy`` walks ``commands/destroy.KINDS`` (one entry per kind below, in the order AWS lets
them go). The names are the state file's format: changing one forgets what older runs recorded.
"""
from __future__ import annotations

STUDIO = "studio"
STUDIO_SECURITY_GROUP = "studio-security-group"
STUDIO_ROLE = "studio-role"
STUDIO_POLICY = "studio-policy"
CLUSTER = "cluster"
#: The EMR Serverless application (its job runtime role is an ``iam-role`` like the others).
SERVERLESS_APPLICATION = "serverless-application"
#: A network piece we did not create that carries EMR's tag because we added it.
EMR_TAG = "emr-policy-tag"
SSH_RULE = "ssh-rule"
SECURITY_GROUP = "security-group"
KEY_PAIR = "key-pair"
INSTANCE_PROFILE = "instance-profile"
ROLE = "iam-role"
BUCKET = "bucket"
