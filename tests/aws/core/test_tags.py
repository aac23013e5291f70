"""What is ours: a resource is ours only when it carries *both* of our tags, the managed mark
and *this* project's name. ``destroy --project a`` removes what ``is_ours(tags, "a")`` says, so
anything weaker would remove another project's roles, security groups or Studio in the same
account."""
from __future__ import annotations

from typing import Dict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigfruits.aws.core.tags import (MANAGED_TAG, PROJECT_TAG, is_ours, managed_tags, ours_filters,
                                     tag_dict, tag_list, tags_match)

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure
#: no per-example deadline: mutmut runs these on loaded cores, where a slow example is no bug
relaxed = settings(deadline=None)

projects = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20)
#: other tags a resource may carry (never one of ours)
others = st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda k: k not in (MANAGED_TAG, PROJECT_TAG)),
                         st.text(max_size=10), max_size=4)


def test_managed_tags_are_the_mark_and_the_project() -> None:
    assert managed_tags("a") == {"bigfruits:managed": "true", "bigfruits:project": "a"}


@relaxed
@given(project=projects, extra=others)
def test_both_of_our_tags_make_it_ours(project: str, extra: Dict[str, str]) -> None:
    """Protects finding our own things: both tags, whatever else is on the resource."""
    tags = {**extra, **managed_tags(project)}
    assert tags_match(tags, project)
    assert is_ours(tag_list(tags), project)


@relaxed
@given(project=projects, other=projects, extra=others)
def test_our_mark_with_another_projects_name_is_not_ours(project: str, other: str,
                                                         extra: Dict[str, str]) -> None:
    """Protects another project in the same account: managed by bigfruits, but project b's,
    is left alone by project a."""
    if other == project:
        return
    tags = {**extra, MANAGED_TAG: "true", PROJECT_TAG: other}
    assert not tags_match(tags, project)
    assert not is_ours(tag_list(tags), project)


@relaxed
@given(project=projects, extra=others)
def test_only_the_project_tag_is_not_ours(project: str, extra: Dict[str, str]) -> None:
    """A resource someone tagged with our project's name but not as managed by us (their own
    bucket named after the project, say) is not ours to delete."""
    tags = {**extra, PROJECT_TAG: project}
    assert not tags_match(tags, project)
    assert not is_ours(tag_list(tags), project)


@relaxed
@given(project=projects, extra=others)
def test_only_the_managed_tag_is_not_ours(project: str, extra: Dict[str, str]) -> None:
    """The managed mark without a project says nothing about whose it is: not ours."""
    tags = {**extra, MANAGED_TAG: "true"}
    assert not tags_match(tags, project)
    assert not is_ours(tag_list(tags), project)


@relaxed
@given(project=projects, value=st.text(max_size=6).filter(lambda v: v != "true"), extra=others)
def test_a_managed_tag_other_than_true_is_not_ours(project: str, value: str,
                                                   extra: Dict[str, str]) -> None:
    tags = {**extra, MANAGED_TAG: value, PROJECT_TAG: project}
    assert not is_ours(tag_list(tags), project)


@pytest.mark.parametrize("tags", [[], None], ids=["no tags", "None"])
def test_no_tags_is_not_ours(tags) -> None:
    assert not is_ours(tags, "bigfruits")


def test_tag_names_are_compared_exactly() -> None:
    """``bigfruits:Project`` or a project differing in case is another tag or another project."""
    assert not is_ours([{"Key": MANAGED_TAG, "Value": "true"},
                        {"Key": "bigfruits:Project", "Value": "a"}], "a")
    assert not is_ours(tag_list(managed_tags("A")), "a")
    assert not is_ours(tag_list(managed_tags("a ")), "a")


@relaxed
@given(tags=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=5))
def test_tag_list_and_tag_dict_are_inverse(tags: Dict[str, str]) -> None:
    as_list = tag_list(tags)
    assert tag_dict(as_list) == tags
    assert [t["Key"] for t in as_list] == sorted(tags)


def test_ec2_filters_ask_for_both_tags() -> None:
    """EC2 filters server-side: both tags are filters (AND), each with this project's value."""
    assert ours_filters("a") == [{"Name": "tag:bigfruits:managed", "Values": ["true"]},
                                 {"Name": "tag:bigfruits:project", "Values": ["a"]}]
