"""Permissions a call needed that CloudTrail does not log as calls of their own: iam:PassRole.

Pure. ``data/inferred.csv`` names, for each call that passes a role to a service, the request
parameter holding it (a dotted path; ``[]`` for every item of a list) and the service it is
passed to. The role is an ARN (exact), a bare name (its path unknown: the root path or any
path), or hidden behind an EC2 instance profile (unknown: ``*``, unscoped).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from trailmin.mapping.resources import ANY, EXACT, PATTERN, UNSCOPED, Context

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


def has_inferred(service: str, event_name: str) -> bool:
    """Return whether calls of this kind can pass a role."""
    return (service, event_name) in _rules()


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
    """Return the permissions the call needed besides its own actions (iam:PassRole)."""
    return [
        _pass_role(value, parameter, passed_to, provenance, ctx)
        for parameter, passed_to, provenance in _rules().get((service, event_name), ())
        for value in _values(ctx.params, parameter)
    ]


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
    base = f"arn:{ctx.partition}:iam::{ctx.account}:role/"
    return Inferred(
        PASS_ROLE,
        (f"{base}*/{text}", f"{base}{text}"),
        f"{PATTERN}: the role's path is not in the record; {where}",
        passed_to,
    )
