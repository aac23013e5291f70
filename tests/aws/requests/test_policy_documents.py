"""The IAM policy documents, whole, against reviewed copies in golden/iam_policies.json.

What our roles may do is security: any change to a document (an action, a resource, a
condition, a principal) must be deliberate, so it fails here until the golden file is updated
in the same commit (``BIGFRUITS_UPDATE_GOLDEN=1 pytest tests/aws/requests/test_policy_documents.py``
rewrites it, then fails once saying so: review ``git diff`` and run again without it)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from bigfruits.aws.core.settings import StudioSettings
from bigfruits.aws.requests import iam_policies as p

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

GOLDEN = Path(__file__).parent / "golden" / "iam_policies.json"
ACCOUNT = "123456789012"


def current_documents() -> Dict[str, Any]:
    """Every policy document we build, for both Studio auth modes (built inside the test)."""
    docs: Dict[str, Any] = {
        "trust_policy(ec2)": p.trust_policy("ec2.amazonaws.com"),
        "service_trust_policy": p.service_trust_policy(ACCOUNT, "eu-west-3"),
        "service_trust_policy(any region)": p.service_trust_policy(ACCOUNT),
        "role_arn": p.role_arn(ACCOUNT, "r"),
        "node_policy": p.node_policy("bf-bucket"),
        "pass_node_role_policy": p.pass_node_role_policy(p.role_arn(ACCOUNT, "bigfruits-emr-ec2-role")),
        "serverless_trust_policy": p.serverless_trust_policy(
            ACCOUNT, f"arn:aws:emr-serverless:eu-west-3:{ACCOUNT}:/applications/00fapplication"),
        "serverless_job_policy": p.serverless_job_policy("bf-bucket"),
    }
    for mode, extra in (("IAM", {}), ("SSO", {"auth_mode": "SSO", "sso_users": ("alice",),
                                             "sso_groups": ("team",),
                                             "idc_instance_arn": "arn:aws:sso:::instance/ssoins-1"})):
        s = StudioSettings(project="bigfruits", bucket="bf-bucket", region="eu-west-3", **extra)
        docs[f"{mode}/service_role_policy"] = p.service_role_policy(s, "vpc-1", ["subnet-1", "subnet-2"])
        docs[f"{mode}/user_trust_policy"] = p.user_trust_policy(s, ACCOUNT)
        docs[f"{mode}/user_policy"] = p.user_policy(s, ACCOUNT)
    return docs


def test_policy_documents_are_the_reviewed_ones() -> None:
    """Protects what our roles and users may do: every document exactly as reviewed."""
    docs = json.loads(json.dumps(current_documents()))  # tuples -> lists, as sent
    golden = json.loads(GOLDEN.read_text())
    if os.environ.get("BIGFRUITS_UPDATE_GOLDEN") == "1" and docs != golden:
        GOLDEN.write_text(json.dumps(docs, indent=2, sort_keys=True) + "\n")
        pytest.fail(f"rewrote {GOLDEN.name} from today's documents: review `git diff` (it becomes "
                    "what the roles may do), then run again without BIGFRUITS_UPDATE_GOLDEN")
    assert sorted(docs) == sorted(golden)
    for name in golden:
        assert docs[name] == golden[name], name


def test_updating_the_golden_file_never_passes_on_what_it_just_wrote(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects the review: with BIGFRUITS_UPDATE_GOLDEN=1 a changed document rewrites the
    golden file and *fails*, so a run that rewrote it cannot be taken for a passing one; an
    unchanged golden file is left as it is and passes."""
    from _pytest.outcomes import Failed

    golden = tmp_path / "iam_policies.json"
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "GOLDEN", golden)
    monkeypatch.setenv("BIGFRUITS_UPDATE_GOLDEN", "1")
    golden.write_text(json.dumps({"node_policy": {"Statement": []}}))
    with pytest.raises(Failed, match="rewrote iam_policies.json"):
        test_policy_documents_are_the_reviewed_ones()
    written = golden.read_text()
    assert json.loads(written) == json.loads(json.dumps(current_documents()))
    test_policy_documents_are_the_reviewed_ones()  # now the same: passes, rewrites nothing
    assert golden.read_text() == written
