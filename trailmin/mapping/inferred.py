"""Permissions a call needed that CloudTrail does not log as calls of their own: iam:PassRole,
the tag action of a create call that tags what it creates, and what an error code shows.

Pure. ``data/inferred.csv`` names, for each call that passes a role to a service, the request
parameter holding it (a dotted path; ``[]`` for every item of a list) and the service it is
passed to. The role is an ARN (exact), a bare name (its path unknown: the root path or any
path), or hidden behind an EC2 instance profile (unknown: ``*``, unscoped).

``data/tag_on_create.csv`` names the create calls that, given tags, are authorized for a tag
action too (``ec2:CreateTags``, ``ecs:TagResource``, ``rds:AddTagsToResource``) on the resource
they create. Where the request names it (``name_parameter``: RDS's ``dBInstanceIdentifier``) that
resource is exact; else its id is in the response, not the request, so the resource is every
resource of the type in the account and Region (``vpc/*``), a pattern.

``data/session_on_assume.csv`` names the assume calls whose parameters need an action of their
own on the role: session tags (``sts:TagSession``) and a source identity
(``sts:SetSourceIdentity``).

``data/error_inferred.csv`` names error codes that show the caller held another permission:
S3 answers ``NoSuchKey`` only to a caller allowed ``s3:ListBucket``.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from trailmin.aws import catalog
from trailmin.aws.arns import TEMPLATE_VARIABLE, escape
from trailmin.mapping.resources import ANY, EXACT, PATTERN, UNSCOPED, Context, scope

PASS_ROLE = "iam:PassRole"


@dataclass(frozen=True, slots=True)
class Inferred:
    """A permission the call needed besides its own actions."""

    action: str
    resources: tuple[str, ...]
    derivation: str
    passed_to: str  # the service the role is passed to (iam:PassedToService)


@functools.cache
def _rules() -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    text = resources.files("trailmin.mapping").joinpath("data", "inferred.csv").read_text()
    rules: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for row in csv.DictReader(text.splitlines()):
        rules.setdefault((row["service"], row["event_name"]), []).append(
            (row["parameter"], row["passed_to"], row["provenance"])
        )
    return rules


@dataclass(frozen=True, slots=True)
class _TagRule:
    """A row of tag_on_create.csv."""

    parameter: str  # the request's tags (a dotted path)
    action: str
    kind: str  # the created resource's type ("" : each tag specification's resourceType)
    name_parameter: str  # the request parameter naming the created resource ("" : none)
    lower: bool  # the service stores that name in lower case (RDS)
    provenance: str


@functools.cache
def _tag_rules() -> dict[tuple[str, str], list[_TagRule]]:
    text = resources.files("trailmin.mapping").joinpath("data", "tag_on_create.csv").read_text()
    rules: dict[tuple[str, str], list[_TagRule]] = {}
    for row in csv.DictReader(text.splitlines()):
        rules.setdefault((row["service"], row["event_name"]), []).append(
            _TagRule(
                row["parameter"],
                row["action"],
                row["resource_type"],
                row["name_parameter"],
                row["name_case"] == "lower",
                row["provenance"],
            )
        )
    return rules


def tag_rules() -> list[tuple[str, str, str, str]]:
    """Return the (service, eventName, tag action, resource type) rows of tag_on_create.csv."""
    return [
        (service, name, rule.action, rule.kind)
        for (service, name), rows in sorted(_tag_rules().items())
        for rule in rows
    ]


def _tagging(service: str, event_name: str) -> list[_TagRule]:
    rules = _tag_rules()
    return rules.get((service, event_name), []) + rules.get((service, "*"), [])


@functools.cache
def _session_rules() -> dict[tuple[str, str], list[tuple[str, str, str, str]]]:
    text = resources.files("trailmin.mapping").joinpath("data", "session_on_assume.csv").read_text()
    rules: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
    for row in csv.DictReader(text.splitlines()):
        rules.setdefault((row["service"], row["event_name"]), []).append(
            (row["parameter"], row["action"], row["resource_parameter"], row["provenance"])
        )
    return rules


def session_rules() -> list[tuple[str, str, str]]:
    """Return the (service, eventName, action) rows of session_on_assume.csv."""
    return [
        (service, name, rule[1])
        for (service, name), rows in sorted(_session_rules().items())
        for rule in rows
    ]


def has_inferred(service: str, event_name: str) -> bool:
    """Return whether calls of this kind can pass a role, tag what they create or pass session
    tags or a source identity."""
    return (
        (service, event_name) in _rules()
        or bool(_tagging(service, event_name))
        or (service, event_name) in _session_rules()
    )


def rule_events() -> list[tuple[str, str]]:
    """Return the (service, eventName) pairs that pass a role."""
    return sorted(_rules())


def _values(params: Any, path: str) -> list[Any]:
    """Return the values at a dotted ``path`` (``a.b``, ``list[].field``) of the parameters."""
    current = [params]
    for part in path.split("."):
        key, each = (part[:-2], True) if part.endswith("[]") else (part, False)
        following: list[Any] = []
        for value in current:
            if not isinstance(value, dict) or key not in value:
                continue
            found = value[key]
            if each:
                following.extend(found if isinstance(found, list) else [])
            else:
                following.append(found)
        current = following
    return [v for v in current if v not in (None, "", {})]


def infer(service: str, event_name: str, ctx: Context) -> list[Inferred]:
    """Return the permissions the call needed besides its own actions (iam:PassRole, tagging
    on creation)."""
    found = [
        _pass_role(value, parameter, passed_to, provenance, ctx)
        for parameter, passed_to, provenance in _rules().get((service, event_name), ())
        for value in _values(ctx.params, parameter)
    ]
    for rule in _tagging(service, event_name):
        for value in _values(ctx.params, rule.parameter):
            if not rule.kind:  # EC2: the type is the tag specification's resourceType
                given = value.get("resourceType") if isinstance(value, dict) else None
                found.append(_tag_on_create(rule.action, given, rule.provenance, ctx))
            else:
                name = ctx.params.get(rule.name_parameter) if rule.name_parameter else None
                if isinstance(name, str) and rule.lower:
                    name = name.lower()
                found.append(_tag_on_create(rule.action, rule.kind, rule.provenance, ctx, name))
                break  # one tag list, one created resource
    for parameter, action, resource_parameter, provenance in _session_rules().get(
        (service, event_name), ()
    ):
        role = ctx.params.get(resource_parameter) if isinstance(ctx.params, dict) else None
        if _values(ctx.params, parameter) and isinstance(role, str) and role.startswith("arn:"):
            found.append(
                Inferred(
                    action, (role,), f"{EXACT}; inferred: {parameter} given ({provenance})", ""
                )
            )
    return found


def _tag_on_create(
    action: str, kind: Any, provenance: str, ctx: Context, name: Any = None
) -> Inferred:
    """Return the tag permission on the created resource of ``kind`` the request names
    (``name``), else on every resource of the type in the account and Region."""
    where = f"inferred: tags given on creation ({provenance})"
    prefix = action.split(":", 1)[0]
    found = catalog.resource_type(prefix, kind) if isinstance(kind, str) and kind else None
    accepted = catalog.action(action)
    if (
        found is None
        or found.arn_template is None
        or accepted is None
        or kind not in {rt.name for rt in accepted.resource_types}
    ):
        return Inferred(
            action,
            (ANY,),
            f"{UNSCOPED}: the created resource's type {kind!r} is not one {action} accepts; "
            f"{where}",
            "",
        )
    if isinstance(name, str) and name and not _NOT_A_NAME.search(name):
        named = _named_of_type(found.arn_template, name, ctx)
        if named is not None:
            return Inferred(action, (named,), f"{EXACT}; {where}", "")
    arn = _any_of_type(found.arn_template, ctx)
    return Inferred(
        action,
        (arn,),
        f"{PATTERN}: the created resource's id is not in the request, only its type; {where}",
        "",
    )


_NOT_A_NAME = re.compile(r"[/:\s*?]")


def _named_of_type(template: str, name: str, ctx: Context) -> str | None:
    """Return ``template`` with the event's partition, region and account and ``name`` for its
    one other variable; None when it has several (a name alone does not fill it)."""
    parts = {"Partition": ctx.partition, "Region": ctx.region, "Account": ctx.account}
    others = [v for v in TEMPLATE_VARIABLE.findall(template) if v not in parts]
    if len(others) != 1:
        return None
    return TEMPLATE_VARIABLE.sub(lambda m: parts.get(m.group(1), name), template)


def _any_of_type(template: str, ctx: Context) -> str:
    """Return ``template`` with the event's partition, region and account, the rest ``*``."""
    parts = {"Partition": ctx.partition, "Region": ctx.region, "Account": ctx.account}
    return TEMPLATE_VARIABLE.sub(
        lambda m: escape(parts[m.group(1)]) if m.group(1) in parts else "*", template
    )


@functools.cache
def _error_rules() -> dict[tuple[str, str, str], list[tuple[str, str]]]:
    text = resources.files("trailmin.mapping").joinpath("data", "error_inferred.csv").read_text()
    rules: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for row in csv.DictReader(text.splitlines()):
        key = (row["service"], row["event_name"], row["error_code"])
        rules.setdefault(key, []).append((row["action"], row["provenance"]))
    return rules


def error_rules() -> list[tuple[str, str, str, str]]:
    """Return the (service, eventName, error code, action) rows of error_inferred.csv."""
    return [(*key, action) for key, rows in sorted(_error_rules().items()) for action, _ in rows]


def infers_from_errors(service: str, event_name: str) -> bool:
    """Return whether an error code of this kind of call can show another permission."""
    return any(key[:2] == (service, event_name) for key in _error_rules())


def infer_from_error(
    service: str, event_name: str, error_code: str | None, ctx: Context
) -> list[Inferred]:
    """Return the permissions the call's error code shows the caller held besides its own."""
    if not error_code:
        return []
    found: list[Inferred] = []
    for action, provenance in _error_rules().get((service, event_name, error_code), ()):
        scoped = scope(action, ctx)
        found.append(
            Inferred(
                scoped.action,
                scoped.resources,
                f"{scoped.derivation}; inferred: error {error_code} ({provenance})",
                "",
            )
        )
    return found


def _pass_role(
    value: Any, parameter: str, passed_to: str, provenance: str, ctx: Context
) -> Inferred:
    where = f"inferred: the role passed in {parameter} ({provenance})"
    if isinstance(value, dict) or parameter == "iamInstanceProfile":
        # An instance profile names no role: which role it holds is not in the record.
        return Inferred(
            PASS_ROLE,
            (ANY,),
            f"{UNSCOPED}: the role inside the instance profile is not in the record; {where}",
            passed_to,
        )
    text = str(value)
    if text.startswith("arn:"):
        return Inferred(PASS_ROLE, (text,), f"{EXACT}; {where}", passed_to)
    base = f"arn:{ctx.partition}:iam::{escape(ctx.account)}:role/"
    return Inferred(
        PASS_ROLE,
        (f"{base}*/{escape(text)}", f"{base}{escape(text)}"),
        f"{PATTERN}: the role's path is not in the record; {where}",
        passed_to,
    )
