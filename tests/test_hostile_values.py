"""A record's values never widen a policy: wildcards in request parameters stay literal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import templated_actions
from trailmin.aws.arns import escape
from trailmin.mapping.permissions import event_permissions
from trailmin.mapping.resources import _VARIABLE, Context, scope
from trailmin.policy.evaluate import pattern_matches

A = "111122223333"


@pytest.mark.parametrize(
    ("source", "name", "params", "other"),
    [
        ("iam.amazonaws.com", "GetRole", {"roleName": "*"}, f"arn:aws:iam::{A}:role/admin"),
        (
            "iam.amazonaws.com",
            "PutRolePolicy",
            {"roleName": "a*", "policyName": "p"},
            f"arn:aws:iam::{A}:role/admin",
        ),
        (
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            {"secretId": "*"},
            f"arn:aws:secretsmanager:us-east-1:{A}:secret:prod/db-AbCdEf",
        ),
        (
            "logs.amazonaws.com",
            "FilterLogEvents",
            {"logGroupName": "*"},
            f"arn:aws:logs:us-east-1:{A}:log-group:/aws/lambda/api",
        ),
        ("s3.amazonaws.com", "DeleteObjects", {"bucketName": "*"}, "arn:aws:s3:::payroll/x.csv"),
        (
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            {"functionName": "f", "role": "?dmin"},
            f"arn:aws:iam::{A}:role/admin",
        ),
    ],
)
def test_a_wildcard_in_a_request_names_itself_only(source, name, params, other):
    """IAM policy grammar: ``*`` and ``?`` from a record are written ``${*}`` and ``${?}``, in
    patterns too; no permission of the call matches a resource the record did not name."""
    ctx = Context("aws", "us-east-1", A, params, ())
    found = event_permissions(source, name, None, ctx)
    assert found
    for permission in found:
        if "pattern" in permission.derivation:
            assert not pattern_matches(permission.resource, other), permission


# --- the property, across the catalog -------------------------------------------------------------
#
# Two requests for the same action whose values share no character: the first's values are made of
# IAM's wildcards and letters a-m, the second's of letters n-z. Whatever pattern the first call's
# resources are (an unlogged key, an IAM path, a secret's suffix), none may match a resource of the
# second: a record's own values can only name themselves.

HOSTILE = st.text(alphabet="abcdefghijklm*?$", min_size=1, max_size=8)
OTHER = st.text(alphabet="nopqrstuvwxyz", min_size=1, max_size=8)


ACTIONS = list(templated_actions())


def _variables(action):
    names = {v for rt in action.resource_types for v in _VARIABLE.findall(rt.arn_template or "")}
    return sorted(names - {"Partition", "Region", "Account"})


def _request(action, values):
    """Return request parameters naming each variable of ``action`` the ways requests do."""
    params = {}
    for n, variable in enumerate(_variables(action)):
        value = values[n % len(values)]
        params[variable[:1].lower() + variable[1:]] = value
        params[variable] = value
    return params


def _widened(action, hostile, other):
    """Return the resources of a call with ``hostile`` values that match a resource of a call
    with ``other`` values."""
    mine = scope(action.full_name, Context("aws", "us-east-1", A, _request(action, hostile), ()))
    theirs = scope(action.full_name, Context("aws", "us-east-1", A, _request(action, other), ()))
    # A resource both calls need (a Glue catalog beside the tables) depends on no value.
    shared = set(mine.resources) & set(theirs.resources)
    return [
        (pattern, arn)
        for pattern in _as_policy_writes(mine.resources, mine.derivation)
        if pattern != "*"
        for arn in _instances([r for r in theirs.resources if r not in shared], theirs.derivation)
        if pattern_matches(pattern, arn)
    ]


def _as_policy_writes(resources, derivation):
    """Return resources as a policy writes them (IAM policy grammar, R5.3): a pattern the mapping
    derived as is, an exact ARN with ``*``, ``?``, ``$`` written ``${*}``, ``${?}``, ``${$}``."""
    if "pattern" in derivation:
        return list(resources)
    return [r if r == "*" else escape(r) for r in resources]


def _instances(resources, derivation):
    """Return a resource each of ``resources`` could be: a pattern's wildcards filled with the
    other call's letters."""
    if "pattern" not in derivation:
        return [r for r in resources if r != "*"]
    return [r.replace("*", "nq").replace("?", "n") for r in resources if r != "*"]


def test_no_catalog_action_lets_a_wildcard_value_reach_another_resource():
    """Every templated action of the catalog, with values that are nothing but wildcards."""
    widened = {
        action.full_name: found
        for action in ACTIONS
        if (found := _widened(action, ["*", "?*", "$*{*}"], ["n", "opq", "rst"]))
    }
    assert widened == {}


@settings(max_examples=400, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=len(ACTIONS) - 1),
    hostile=st.lists(HOSTILE, min_size=1, max_size=3),
    other=st.lists(OTHER, min_size=1, max_size=3),
)
def test_no_record_makes_a_statement_match_a_resource_its_values_do_not_name(index, hostile, other):
    """Hypothesis, over the catalog's actions and any values."""
    assert _widened(ACTIONS[index], hostile, other) == []


@settings(max_examples=300, deadline=None)
@given(
    mapped=st.sampled_from(
        [
            ("s3.amazonaws.com", "DeleteObjects", ("bucketName",)),
            ("s3.amazonaws.com", "GetObject", ("bucketName", "key")),
            ("iam.amazonaws.com", "PutRolePolicy", ("roleName", "policyName")),
            ("iam.amazonaws.com", "CreateRole", ("roleName", "path")),
            ("secretsmanager.amazonaws.com", "GetSecretValue", ("secretId",)),
            ("logs.amazonaws.com", "PutLogEvents", ("logGroupName", "logStreamName")),
            ("cloudformation.amazonaws.com", "UpdateStack", ("stackName",)),
            ("ecs.amazonaws.com", "RegisterTaskDefinition", ("family",)),
            ("lambda.amazonaws.com", "CreateFunction20150331", ("functionName", "role")),
        ]
    ),
    hostile=HOSTILE,
    other=OTHER,
)
def test_no_mapped_event_widens_past_its_values(mapped, hostile, other):
    """Hypothesis, through the mapping of whole events (inferred permissions such as
    iam:PassRole included): the same property."""
    source, name, keys = mapped

    def permissions(value):
        params = dict.fromkeys(keys, value)
        return event_permissions(source, name, None, Context("aws", "us-east-1", A, params, ()))

    theirs = [p.resource for p in permissions(other) if p.resource != "*"]
    for permission in permissions(hostile):
        (written,) = _as_policy_writes([permission.resource], permission.derivation)
        if written == "*":
            continue
        for arn in theirs:
            assert not pattern_matches(written, arn), (permission, written, arn)
