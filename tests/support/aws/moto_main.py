"""moto's server (``python -m tests.support.aws.moto_main [--complete-steps] <moto.server args>``)
with two things made as AWS does them, for clients in another process (the CLI installed in a
venv of its own), where a sender like ``FakeEmr`` cannot be injected:

1. **Bucket policy conditions.** moto 5.2 evaluates a statement that has any ``Condition`` as
   DENIED, whatever its effect (``IAMPolicyStatement._check_conditions`` gets no request
   values), so our bucket's TLS-only statement (Deny when ``aws:SecureTransport`` is
   ``false``) refuses every request, over TLS too. This server only speaks HTTPS: a statement
   whose one condition is ``aws:SecureTransport`` applies exactly when its value is ``true``,
   and then goes to moto's own evaluation without it; any other condition is left to moto.
   So the real policy is put, kept in moto's state, and enforced as S3 would over HTTPS.
2. **EMR steps** (``--complete-steps``). moto's steps never leave PENDING/RUNNING. Here a step
   completes as it is added, and a pipeline step (``bigfruits run … --output s3://b/p/``)
   leaves ``RESULTS`` under its own ``--output`` in moto's S3, as the real step writes its
   results there. The states in between (and failures) are what ``FakeEmr`` scripts for the
   in-process tests.
3. **EMR Studio**, which moto does not implement (``StubbedAws`` answers it in-process): Studios
   and their session mappings kept in the server, each reference a request makes (service and
   user roles, VPC, subnets, security groups, the S3 location's bucket) checked against moto's
   own IAM, EC2 and S3, so a Studio made of something that does not exist is refused with
   EMR's ``InvalidRequestException``, as AWS refuses it.
"""
from __future__ import annotations

import json
import re
import sys
from typing import Any, Dict, List

#: What a completed pipeline step "writes" under its --output here (moto runs no Spark).
RESULTS: Dict[str, bytes] = {
    "manifest.json": b'{"images_ok": 5, "images_failed": 0, "note": "written by the moto test server"}',
    "report.html": b"<!doctype html><title>bigfruits run</title>",
}
TLS_ONLY = "aws:SecureTransport"


def _statements(policy: Dict[str, Any]) -> List[Dict[str, Any]]:
    found = policy.get("Statement", [])
    return found if isinstance(found, list) else [found]


def over_tls(statement: Dict[str, Any]) -> "Dict[str, Any] | None":
    """The statement as it applies to an HTTPS request: None when its only condition is
    ``aws:SecureTransport`` and that is false, the statement without that condition when it is
    true; any other statement unchanged (moto evaluates it)."""
    condition = statement.get("Condition")
    if condition is None or list(condition) != ["Bool"] or list(condition["Bool"]) != [TLS_ONLY]:
        return statement
    if str(condition["Bool"][TLS_ONLY]).lower() != "true":
        return None
    return {key: value for key, value in statement.items() if key != "Condition"}


def patch_bucket_policies() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode())
        kept = [s for s in (over_tls(s) for s in _statements(policy)) if s is not None]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


def _output_of(args: List[str]) -> "str | None":
    return args[args.index("--output") + 1] if "--output" in args[:-1] else None


def patch_emr_steps() -> None:
    from moto.core.utils import utcnow
    from moto.emr.models import Cluster
    from moto.s3.models import s3_backends

    added_by_moto = Cluster.add_steps

    def add_steps(self: Any, steps: List[Dict[str, Any]]) -> Any:
        added = added_by_moto(self, steps)
        for step in added:
            step.state = "COMPLETED"
            step.start_date_time = step.ready_date_time = step.end_date_time = utcnow()
            output = _output_of([str(a) for a in step.args])
            if output and output.startswith("s3://"):
                bucket, _, prefix = output[len("s3://"):].partition("/")
                backend = s3_backends[self.emr_backend.account_id]["aws"]
                for name, data in RESULTS.items():
                    backend.put_object(bucket, prefix.rstrip("/") + "/" + name, data)
        return added

    Cluster.add_steps = add_steps


class StudioRefused(Exception):
    """What EMR answers a Studio request that names something missing."""


def _studio_checks(account: str, region: str, params: Dict[str, Any]) -> None:
    """Every reference of a CreateStudio request exists in moto (else ``StudioRefused``)."""
    from moto.ec2.models import ec2_backends
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends

    iam, ec2 = iam_backends[account]["global"], ec2_backends[account][region]
    for key in ("ServiceRole", "UserRole"):
        if params.get(key):
            try:
                iam.get_role_by_arn(params[key])
            except Exception:
                raise StudioRefused(f"{key} {params[key]} does not exist") from None
    vpc = params["VpcId"]
    try:
        ec2.get_vpc(vpc)
        subnets = [ec2.get_subnet(subnet) for subnet in params["SubnetIds"]]
    except Exception as exc:
        raise StudioRefused(f"invalid VPC or subnet: {exc}") from None
    if any(subnet.vpc_id != vpc for subnet in subnets) or not subnets:
        raise StudioRefused(f"the subnets must be in {vpc}")
    for key in ("WorkspaceSecurityGroupId", "EngineSecurityGroupId"):
        group = ec2.get_security_group_from_id(params[key])
        if group is None or group.vpc_id != vpc:
            raise StudioRefused(f"{key} {params[key]} is not a security group of {vpc}")
    bucket = str(params["DefaultS3Location"])[len("s3://"):].split("/", 1)[0]
    try:
        s3_backends[account]["aws"].get_bucket(bucket)
    except Exception:
        raise StudioRefused(f"DefaultS3Location bucket {bucket} does not exist") from None


def patch_emr_studio() -> None:
    import random
    import string

    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.utils import utcnow
    from moto.emr.responses import ElasticMapReduceResponse

    studios: Dict[str, Dict[str, Any]] = {}
    mappings: Dict[str, List[Dict[str, Any]]] = {}

    def region(self: Any) -> str:
        """The region the request was signed for (moto's EMR takes it from the host name,
        which here is 127.0.0.1)."""
        found = re.search(r"Credential=[^/]+/\d+/([^/]+)/", self.headers.get("Authorization", ""))
        return found.group(1) if found else self.region

    def refused(message: str) -> JsonRESTError:
        return JsonRESTError("InvalidRequestException", message)

    def studio(self: Any, studio_id: str) -> Dict[str, Any]:
        if studio_id not in studios:
            raise refused(f"Studio {studio_id} does not exist")
        return studios[studio_id]

    def create_studio(self: Any) -> Any:
        params = {key: self._get_param(key) for key in (
            "Name", "Description", "AuthMode", "VpcId", "SubnetIds", "ServiceRole", "UserRole",
            "WorkspaceSecurityGroupId", "EngineSecurityGroupId", "DefaultS3Location",
            "IdpAuthUrl", "IdpRelayStateParameterName", "Tags", "IdcInstanceArn")}
        try:
            _studio_checks(self.current_account, region(self), params)
        except StudioRefused as exc:
            raise refused(str(exc)) from None
        studio_id = "es-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=25))
        url = f"https://{studio_id}.emrstudio-prod.{region(self)}.amazonaws.com"
        studios[studio_id] = {**{k: v for k, v in params.items() if v is not None}, "StudioId": studio_id,
                              "StudioArn": f"arn:aws:elasticmapreduce:{region(self)}:{self.current_account}:studio/{studio_id}",
                              "Url": url, "CreationTime": utcnow()}
        return ActionResult({"StudioId": studio_id, "Url": url})

    def describe_studio(self: Any) -> Any:
        return ActionResult({"Studio": studio(self, self._get_param("StudioId"))})

    def list_studios(self: Any) -> Any:
        return ActionResult({"Studios": [
            {key: found.get(key) for key in ("StudioId", "Name", "VpcId", "Description", "Url",
                                             "AuthMode", "CreationTime") if found.get(key) is not None}
            for found in studios.values()]})

    def delete_studio(self: Any) -> Any:
        studio(self, self._get_param("StudioId"))
        studios.pop(self._get_param("StudioId"))
        mappings.pop(self._get_param("StudioId"), None)
        return EmptyResult()

    def create_studio_session_mapping(self: Any) -> Any:
        studio(self, self._get_param("StudioId"))
        mappings.setdefault(self._get_param("StudioId"), []).append(
            {key: self._get_param(key) for key in ("StudioId", "IdentityType", "IdentityName",
                                                   "IdentityId", "SessionPolicyArn") if self._get_param(key)})
        return EmptyResult()

    def list_studio_session_mappings(self: Any) -> Any:
        return ActionResult({"SessionMappings": mappings.get(self._get_param("StudioId"), [])})

    def delete_studio_session_mapping(self: Any) -> Any:
        found = mappings.get(self._get_param("StudioId"), [])
        mappings[self._get_param("StudioId")] = [
            m for m in found if (m.get("IdentityName"), m.get("IdentityId")) !=
            (self._get_param("IdentityName"), self._get_param("IdentityId"))]
        return EmptyResult()

    for function in (create_studio, describe_studio, list_studios, delete_studio,
                     create_studio_session_mapping, list_studio_session_mappings,
                     delete_studio_session_mapping):
        setattr(ElasticMapReduceResponse, function.__name__, function)


def main(argv: List[str]) -> None:
    from moto import server

    if "--complete-steps" in argv:
        argv = [a for a in argv if a != "--complete-steps"]
        patch_emr_steps()
    patch_bucket_policies()
    patch_emr_studio()
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
