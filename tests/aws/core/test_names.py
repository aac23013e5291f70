"""Names a user gives, checked against AWS's rules before any request (``core/names``).

Pure: each rule of each name, from the pages cited in ``bigfruits/aws/core/names.py``."""
from __future__ import annotations

import pytest

from bigfruits.aws.core import names
from bigfruits.errors import InputError

pytestmark = pytest.mark.pure


@pytest.mark.parametrize("project", ["a", "bigfruits", "team-7", "a" * 32, "x1"])
def test_projects_that_fit_every_name_we_make(project: str) -> None:
    assert names.check_project(project) == project


@pytest.mark.parametrize("project", ["", "7up", "-a", "a-", "Big", "big fruits", "bob's", "a_b", "a.b",
                                     "a" * 33, "é"])
def test_projects_aws_would_refuse_somewhere_are_refused_with_the_rule(project: str) -> None:
    with pytest.raises(InputError) as caught:
        names.check_project(project)
    assert caught.value.todo == names.PROJECT_RULE and repr(project) in caught.value.what


@pytest.mark.parametrize("bucket", ["abc", "bf-demo-bucket", "my.bucket.1", "a" * 63, "1bucket"])
def test_valid_bucket_names(bucket: str) -> None:
    assert names.bucket_problem(bucket) is None and names.check_bucket(bucket) == bucket


@pytest.mark.parametrize("bucket, why", [
    ("ab", names.BUCKET_RULE), ("a" * 64, names.BUCKET_RULE), ("My-bucket", names.BUCKET_RULE),
    ("my_bucket", names.BUCKET_RULE), ("-bucket", names.BUCKET_RULE), ("bucket-", names.BUCKET_RULE),
    ("my..bucket", "adjacent dots"), ("192.168.5.4", "IP address"),
    ("xn--bucket", "reserved"), ("sthree-bucket", "reserved"), ("amzn-s3-demo-bucket", "reserved"),
    ("bucket-s3alias", "reserved"), ("bucket--ol-s3", "reserved"), ("bucket.mrap", "reserved"),
    ("bucket--x-s3", "reserved"), ("bucket--table-s3", "reserved"),
])
def test_bucket_names_s3_refuses_say_which_rule(bucket: str, why: str) -> None:
    problem = names.bucket_problem(bucket)
    assert problem is not None and why in problem
    with pytest.raises(InputError) as caught:
        names.check_bucket(bucket)
    assert caught.value.todo == problem and repr(bucket) in caught.value.what


def test_a_dotted_name_that_is_not_an_ip_address_is_fine() -> None:
    assert names.bucket_problem("1.2.3.bucket") is None and names.bucket_problem("1.2.3.4") is not None


@pytest.mark.parametrize("check, rule, name, ok", [
    (names.check_studio_name, names.STUDIO_NAME_RULE, name, ok)
    for name, ok in [("bigfruits-studio", True), ("Team_Studio-2", True), ("a" * 256, True),
                     ("a" * 257, False), ("my studio", False), ("-studio", False), ("studio!", False)]
] + [
    (names.check_key_name, names.KEY_NAME_RULE, name, ok)
    for name, ok in [("bigfruits-key", True), ("k", True), ("a" * 255, True), ("a" * 256, False),
                     ("my key", False), ("clé", False), ("", False)]
])
def test_studio_and_key_pair_names(check, rule: str, name: str, ok: bool) -> None:  # type: ignore[no-untyped-def]
    if ok:
        assert check(name) == name
        return
    with pytest.raises(InputError) as caught:
        check(name)
    assert caught.value.todo == rule and repr(name) in caught.value.what


def test_each_bucket_rule_is_said_in_full() -> None:
    """The one line a user reads: every reason, word for word (the key words alone let a
    garbled reason pass)."""
    assert names.bucket_problem("ab") == names.BUCKET_RULE == (
        "use 3-63 lowercase letters, digits, hyphens and dots, starting and ending with a "
        "letter or digit (S3's bucket naming rules)")
    assert names.bucket_problem("my..bucket") == "no two adjacent dots (S3's bucket naming rules)"
    assert names.bucket_problem("192.168.5.4") == "not formatted as an IP address (S3's bucket naming rules)"
    reserved = ("no prefix xn--, sthree-, amzn-s3-demo- and no suffix -s3alias, --ol-s3, .mrap, --x-s3, "
                "--table-s3 (reserved by S3)")
    assert names.bucket_problem("xn--b") == names.bucket_problem("b--table-s3") == reserved
    assert names.KEY_NAME_RULE == "use 1-255 printable ASCII characters without spaces"
    assert names.STUDIO_NAME_RULE == "use 1-256 letters, digits, hyphens and underscores"
    assert names.PROJECT_RULE == ("use 1-32 lowercase letters, digits and hyphens, starting with a letter "
                                  "and not ending with a hyphen (it becomes part of bucket, role and group names)")
    for check, name, what in [
            (names.check_key_name, "my key", "--key-name 'my key' is not a key pair name EC2 accepts"),
            (names.check_studio_name, "a b", "--name 'a b' is not a Studio name we can use"),
            (names.check_bucket, "A", "--bucket 'A' is not a valid S3 bucket name"),
            (names.check_project, "A", "--project 'A' is not a name AWS accepts everywhere we use it")]:
        with pytest.raises(InputError) as refused:
            check(name)
        assert refused.value.what == what
