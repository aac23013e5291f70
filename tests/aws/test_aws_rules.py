"""What a real AWS account refuses but neither botocore's validator nor moto does, checked
offline on every request the CLI can send (the dry run of every command, both cluster flavors,
``run``, EMR Studio in IAM and SSO mode, with an empty and a full state file).

Why this exists: moto accepted a security-group description with an apostrophe that EC2
refuses (``InvalidParameterValue``) and an IAM action that does not exist (IAM stores unknown
actions silently), so the suite was green while ``create-cluster`` could not work.

Three checks per request:
(a) botocore's service model (types, required members), as ``test_dry_run`` does;
(b) the constraints AWS documents for each string we send, read where possible from
    botocore's own model (``pattern``, ``max``, which its validator ignores) and documentation
    strings ("Valid characters: ...", "Up to 255 characters", "May not begin with aws:"), so no
    rule is retyped by hand; the others from the pages cited at ``HAND_RULES``;
(c) every IAM policy document against policy_sentry's IAM database (from AWS's Service
    Authorization Reference): every action exists, every resource ARN is well formed and of a
    type its actions take, and no S3 action on ``*`` where a bucket can be named.
"""
from __future__ import annotations

import functools
import html
import ipaddress
import json
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import botocore.session
import pytest
import regex
from botocore.model import Shape
from botocore.validate import ParamValidator
from click.testing import CliRunner

from bigfruits.aws.cli import aws
from bigfruits.aws.core.context import Injected
from tests.support.aws.serverless import archive_stand_in
from tests.support.aws.stand_ins import local_stand_ins

pytestmark = pytest.mark.pure

BUCKET = "bf-demo-bucket"
ACCOUNT = "123456789012"
COMMANDS: Dict[str, List[str]] = {
    "create-bucket": ["create-bucket"],
    "upload-dataset": ["upload-dataset"],
    "create-keypair": ["create-keypair"],
    "create-cluster": ["create-cluster", "--yes"],
    "create-cluster studio": ["create-cluster", "--yes", "--flavor", "studio"],
    "create-cluster subnet": ["create-cluster", "--yes", "--subnet-id", "subnet-0abc"],
    "status": ["status"],
    "connect": ["connect", "--my-ip", "203.0.113.7"],
    "submit": ["submit", "--", "--k", "20"],
    "run": ["run", "--yes", "--", "--k", "20"],
    "logs": ["logs"],
    "terminate": ["terminate"],
    "create-studio IAM": ["create-studio"],
    "create-studio SSO": ["create-studio", "--auth-mode", "SSO", "--sso-user", "alice",
                          "--sso-group", "data-team"],
    "serverless create": ["serverless", "create"],
    "serverless create interactive": ["serverless", "create", "--interactive", "--max-vcpus", "12"],
    "serverless run": ["serverless", "run", "--", "--k", "20"],
    "serverless run 3.11": ["serverless", "run", "--python", "3.11", "--input", f"s3://{BUCKET}/raw/Test/",
                            "--", "--k", "20", "--weights", "random"],
    "serverless status": ["serverless", "status"],
    "serverless logs": ["serverless", "logs", "--stream", "stdout"],
    "serverless cancel": ["serverless", "cancel"],
    "serverless probe": ["serverless", "probe"],
    "destroy": ["destroy", "--yes"],
}
FULL_STATE = {
    "cluster": "j-EXISTING", "last_step": "s-LAST", "last_output": f"s3://{BUCKET}/output/run-1/",
    "serverless_job": "00fapplication1/00frun1",
    "resources": {"cluster": {"j-EXISTING": {"flavor": "jupyterhub"}},
                  "security-group": {"sg-0123456789abcdef0": {"name": "bigfruits-ssh"}},
                  "key-pair": {"bigfruits-key": {}},
                  "iam-role": {"bigfruits-emr-service-role": {}, "bigfruits-emr-ec2-role": {},
                               "bigfruits-serverless-job-role": {}},
                  "serverless-application": {"00fapplication1": {"name": "bigfruits-serverless"}},
                  "instance-profile": {"bigfruits-emr-ec2-role": {}},
                  "emr-policy-tag": {"subnet-0abc": {}},
                  "bucket": {BUCKET: {}},
                  "studio": {"es-STUDIO": {"vpc": "vpc-1", "subnets": ["subnet-1"]}}},
}
_MODELS = botocore.session.get_session()
#: A dry run's stand-ins for values only AWS knows (ids, the account): not names we choose.
_PLACEHOLDER = re.compile(r"<[^<>]+>")

Request = Dict[str, Any]


def dry_run(args: Sequence[str], state: Dict[str, Any], tmp: Any, project: str = "bigfruits",
            bucket: str = BUCKET) -> Tuple[int, List[Request], str]:
    """(exit code, the printed requests with the account id filled in, stderr)."""
    state_file = tmp / "state.json"
    state_file.write_text(json.dumps(state))
    injected = Injected(session_factory=lambda p, r: pytest.fail("a dry run must not make a session"),
                        ip_lookup=lambda: "203.0.113.7")
    result = CliRunner().invoke(aws, ["--dry-run", "--region", "eu-west-1", "--project", project,
                                      "--state-file", str(state_file), "--bucket", bucket, *args],
                                obj=injected)
    lines = [line.replace("<account-id>", ACCOUNT) for line in result.stdout.splitlines()]
    return result.exit_code, [json.loads(x) for x in lines if x.startswith("{")], result.stderr


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> List[Tuple[str, Request]]:
    """Every request of every command's dry run, labelled ``<state> <command>``."""
    tmp = tmp_path_factory.mktemp("dry-runs")
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CONFIG_HOME", str(home))
    mp.setenv("BIGFRUITS_CONFIG", str(home / "none.toml"))
    local_stand_ins(mp, tmp_path_factory.mktemp("stand-ins"))  # module scope: set up here
    archives = archive_stand_in(mp, tmp_path_factory.mktemp("archives"))
    key = home / "bigfruits" / "keys" / "bigfruits-key.pem"  # connect checks it before any request
    key.parent.mkdir(parents=True)
    key.write_text("stand-in private key\n")
    found: List[Tuple[str, Request]] = []
    try:
        for state_name, state in (("empty", {"resources": {}}), ("full", FULL_STATE)):
            for name, args in COMMANDS.items():
                code, requests, err = dry_run(args, state, tmp)
                if state_name == "full":
                    assert code == 0, (name, err)
                found += [(f"{state_name} {name}", r) for r in requests]
    finally:
        mp.undo()
    assert archives == ["3.9", "3.11"]  # the serverless runs' (stand-in) archives, with an application
    assert {r["operation"] for _, r in found} >= {"RunJobFlow", "CreateStudio", "CreateRole",
                                                  "CreateSecurityGroup", "PutRolePolicy", "CreateApplication",
                                                  "StartJobRun", "GetServiceQuota", "StopApplication",
                                                  "DeleteApplication", "CancelJobRun"}
    return found


# --- (a) botocore's model -------------------------------------------------------------------

def test_every_request_is_valid_against_botocore(corpus: List[Tuple[str, Request]]) -> None:
    for label, request in corpus:
        model = _MODELS.get_service_model(request["service"]).operation_model(request["operation"])
        report = ParamValidator().validate(request["params"], model.input_shape)
        assert not report.has_errors(), (label, request["operation"], report.generate_report())


# --- (b) documented constraints -------------------------------------------------------------

Check = Callable[[str], Optional[str]]


def _doc(shape: Shape) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", shape.documentation or "")).split())


def _charset(spec: str) -> Check:
    """"a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*" -> a check of each character."""
    allowed = set(spec)
    ranges = [("a", "z"), ("A", "Z"), ("0", "9")]

    def check(value: str) -> Optional[str]:
        bad = sorted({c for c in value if c not in allowed and c != " "
                      and not any(lo <= c <= hi for lo, hi in ranges)})
        return f"characters {''.join(bad)!r} not among a-zA-Z0-9, space and {spec}" if bad else None
    return check


def _python_pattern(java: str) -> str:
    """Java patterns spell characters beyond the BMP as UTF-16 surrogate pairs (EMR's
    ``XmlStringMaxLen256``: ``\\uD800\\uDC00-\\uDBFF\\uDFFF``); Python wants code points."""
    def code_point(m: "re.Match[str]") -> str:
        high, low = int(m.group(1), 16), int(m.group(2), 16)
        return "\\U%08X" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    return re.sub(r"\\u(D[89AB][0-9A-Fa-f]{2})\\u(D[C-Fc-f][0-9A-Fa-f]{2})", code_point, java)


def documented_checks(shape: Shape) -> List[Check]:
    """The rules botocore's model and documentation state for one string member."""
    checks: List[Check] = []
    meta = shape.metadata
    if "pattern" in meta:  # Java-style patterns with \p{L}: the `regex` module reads them
        pattern = regex.compile(_python_pattern(meta["pattern"]))
        checks.append(lambda v: None if pattern.fullmatch(v) else f"does not match {pattern.pattern}")
    if "max" in meta:
        checks.append(lambda v, m=meta["max"]: f"longer than {m}" if len(v) > m else None)
    doc = _doc(shape)
    chars = re.search(r"(?:Valid characters:|Allowed characters are) a-z, A-Z, 0-9, spaces, and (\S+)", doc)
    if chars:
        checks.append(_charset(chars.group(1)))
    longest = re.search(r"(?:Up to|maximum of) (\d+) (ASCII |Unicode )?characters", doc)
    if longest:
        limit = int(longest.group(1))
        checks.append(lambda v, m=limit: f"longer than {m}" if len(v) > m else None)
        if longest.group(2) == "ASCII ":
            checks.append(lambda v: None if v.isascii() else "not ASCII")
    for prefix in re.findall(r"(?:May not begin with|Can't start with) (\S+?) ?\.", doc):
        checks.append(lambda v, p=prefix: f"starts with {p}" if v.startswith(p) else None)
    return checks


def _bucket_name(value: str) -> Optional[str]:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"""
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value) or ".." in value:
        return "not 3-63 of a-z0-9.- starting and ending with a letter or digit"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value) and _is_ip(value):
        return "formatted as an IP address"
    if value.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or value.endswith(
            ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")):
        return "a reserved prefix or suffix"
    return None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
        return True
    except ValueError:
        return False


def _object_key(value: str) -> Optional[str]:
    """At most 1,024 bytes of UTF-8: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html"""
    return "longer than 1024 bytes" if len(value.encode()) > 1024 else None


_EMR_TAG = regex.compile(r"[\p{L}\p{Z}\p{N}+\-=._:/@]*")


def _emr_tag(limit: int) -> Check:
    """EMR tags: letters, digits, spaces and + - = . _ : / @; keys up to 128, values up to 256;
    no aws: prefix (https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-plan-tags-restrictions.html)."""
    def check(value: str) -> Optional[str]:
        if not _EMR_TAG.fullmatch(value) or len(value) > limit:
            return f"not up to {limit} of letters, digits, spaces and +-=._:/@"
        return "starts with aws:" if value.lower().startswith("aws:") else None
    return check


#: Rules botocore does not state, from the pages cited in each function's docstring, keyed by
#: (service, member name, the member's shape name).
HAND_RULES: Dict[Tuple[str, str, str], Check] = {
    ("s3", "Bucket", "BucketName"): _bucket_name,
    ("s3", "Key", "ObjectKey"): _object_key,
    ("emr", "Key", "String"): _emr_tag(128),
    ("emr", "Value", "String"): _emr_tag(256),
}


def strings(value: Any, shape: Shape, path: str, member: str = "") -> Iterator[Tuple[str, str, Shape, str]]:
    """(path, member name, shape, value) of every string in a request, walking its shape."""
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                yield from strings(item, shape.members[key], f"{path}.{key}", key)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, shape.member, f"{path}[{i}]", member)
    elif shape.type_name == "string" and isinstance(value, str):
        yield path, member, shape, value


def rule_violations(request: Request) -> List[str]:
    model = _MODELS.get_service_model(request["service"]).operation_model(request["operation"])
    found = []
    for path, member, shape, value in strings(request["params"], model.input_shape, request["operation"]):
        if _PLACEHOLDER.search(value):
            continue
        checks = documented_checks(shape)
        hand = HAND_RULES.get((request["service"], member, shape.name))
        if hand:
            checks.append(hand)
        found += [f"{path} = {value[:80]!r}: {problem}" for check in checks
                  for problem in [check(value)] if problem]
    return found


def test_every_string_sent_keeps_to_what_aws_documents(corpus: List[Tuple[str, Request]]) -> None:
    problems = [f"{label}: {p}" for label, request in corpus for p in rule_violations(request)]
    assert not problems, "\n".join(problems)


def test_documented_rules_are_read_from_botocore() -> None:
    """The check is only as good as the rules it finds: each of these is stated by botocore."""
    ec2 = _MODELS.get_service_model("ec2")
    description = ec2.operation_model("CreateSecurityGroup").input_shape.members["Description"]
    assert [c("SSH from the operator's IP") for c in documented_checks(description)][-2:] == [
        "characters \"'\" not among a-zA-Z0-9, space and ._-:/()#,@[]+=&;{}!$*", None]
    pair = ec2.shape_for("UserIdGroupPair").members["Description"]
    assert any(c("a & b") for c in documented_checks(pair))  # '&' is allowed in other descriptions
    tag_key = ec2.shape_for("Tag").members["Key"]
    assert any(c("aws:mine") for c in documented_checks(tag_key))
    role = _MODELS.get_service_model("iam").operation_model("CreateRole").input_shape.members["RoleName"]
    assert any(c("x" * 65) for c in documented_checks(role)) and any(c("a b") for c in documented_checks(role))
    assert _bucket_name("b") and _bucket_name("My-Bucket") and not _bucket_name(BUCKET)


# --- (c) IAM policy documents ---------------------------------------------------------------

def policy_documents(corpus: List[Tuple[str, Request]]) -> List[Tuple[str, Dict[str, Any]]]:
    docs = []
    for label, request in corpus:
        for key in ("PolicyDocument", "AssumeRolePolicyDocument"):
            if key in request["params"]:
                docs.append((f"{label} {request['operation']} {request['params'].get('RoleName', '')}"
                             f"{request['params'].get('PolicyName', '')}", json.loads(request["params"][key])))
    return docs


def _as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=None)
def _arn_formats(action: str) -> Tuple[str, ...]:
    """The resource ARN formats an action takes, from the IAM database; () if no such action."""
    from policy_sentry.querying.actions import get_action_data

    service, name = action.split(":", 1)
    data = get_action_data(service, name) or {}
    return tuple(entry["resource_arn_format"] for entry in data.get(service, []))


def _actions(pattern: str) -> List[str]:
    """``ec2:Describe*`` -> every action it grants (none: an unknown action or prefix)."""
    if "*" not in pattern:
        return [pattern] if _arn_formats(pattern) else []
    from policy_sentry.analysis.expand import determine_actions_to_expand

    return [a for a in determine_actions_to_expand([pattern]) if a != pattern]


def _arn_matches(arn: str, formats: Sequence[str]) -> bool:
    from policy_sentry.util.arns import does_arn_match

    for fmt in formats:
        if fmt == "*":
            continue
        try:
            if does_arn_match(arn, fmt):
                return True
        except Exception:  # policy_sentry raises on an ARN it cannot parse
            return False
    return False


def policy_problems(document: Dict[str, Any]) -> List[str]:
    found = []
    for statement in _as_list(document.get("Statement", [])):
        if "Principal" in statement:  # a trust policy: its action is sts:AssumeRole/SetContext
            found += [f"unknown action {a}" for a in _as_list(statement["Action"]) if not _actions(a)]
            continue
        resources = _as_list(statement.get("Resource", []))
        for pattern in _as_list(statement.get("Action", [])):
            actions = _actions(pattern)
            if not actions:
                found.append(f"{statement.get('Sid')}: unknown action {pattern}")
                continue
            for action in actions:
                formats = _arn_formats(action)
                for arn in resources:
                    if arn == "*":
                        if action.startswith("s3:") and any("${BucketName}" in f for f in formats):
                            found.append(f"{statement.get('Sid')}: {action} on * though it takes a bucket ARN")
                    elif not _arn_matches(arn, formats):
                        found.append(f"{statement.get('Sid')}: {arn} is not a resource {action} takes")
    return found


def test_every_policy_names_real_actions_on_well_formed_resources(corpus: List[Tuple[str, Request]]) -> None:
    docs = policy_documents(corpus)
    # node, pass-role, Studio x2, trusts, the serverless job role's policy and trust
    assert len({json.dumps(d, sort_keys=True) for _, d in docs}) >= 8
    problems = [f"{label}: {p}" for label, doc in docs for p in policy_problems(doc)]
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_policy_check_finds_what_iam_would_store_silently() -> None:
    bad = {"Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": ["elasticmapreduce:OpenEditorConsole"], "Resource": "*"},
        {"Sid": "B", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
        {"Sid": "C", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3::b/*"},
        {"Sid": "D", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Sid": "E", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": "*"},
    ]}
    problems = policy_problems(bad)
    assert [p.split(":")[0] for p in problems] == ["A", "B", "C", "D"], problems


# --- names refused before anything is sent --------------------------------------------------

@pytest.mark.parametrize("option, value", [
    ("--project", "bob's"), ("--project", "Big Fruits"), ("--project", "x" * 33),
    ("--bucket", "b"), ("--bucket", "My_Bucket"), ("--name", "my studio!"),
])
def test_a_name_aws_would_refuse_is_refused_in_one_line_before_any_request(
        option: str, value: str, tmp_path: Any, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bigfruits.cli import main

    monkeypatch.setenv("BIGFRUITS_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("BIGFRUITS_STATE_DIR", str(tmp_path / "state"))
    group = [option, value] if option != "--name" else []
    command = ["create-studio", "--name", value] if option == "--name" else ["create-cluster", "--yes"]
    code = main(["aws", "--dry-run", "--region", "eu-west-1", *group, *command])
    out, err = capsys.readouterr()
    assert code != 0 and out == "", out  # not one request printed
    (line,) = err.strip().splitlines()
    assert value in line and "use " in line and ("letters" in line or "S3" in line), line
