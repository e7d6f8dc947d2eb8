"""Benchmark: the evaluator on 20,000 generated requests over realistic policy sets.

A fixed, seeded set of (layers, request) pairs: identity policies of Allow and Deny statements
with wildcards, NotAction/NotResource, policy variables and conditions of every family; a
permissions boundary, a session policy or SCP levels on some; and on a fifth of them a resource
policy (a bucket policy, a KMS key policy or a role trust policy) with principals of every kind,
same-account and cross-account. Callers are users, roles and role sessions.

Each pair is evaluated with ``evaluate`` (three-valued), the set once to warm the caches and then
``--repeat`` times; the best and the median throughput are printed in requests per second.

    .venv/bin/python bench/evaluation.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from trailmin.policy.evaluate import Layers, Request, evaluate

REQUESTS = 20_000
SEED = 15
ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
ROLES = ["deploy", "app", "ci/builder", "audit"]
USERS = ["alice", "bob", "carol"]
SERVICES = {
    "s3": (["GetObject", "PutObject", "DeleteObject", "ListBucket"], "arn:aws:s3:::{n}/k/{m}"),
    "kms": (["Decrypt", "Encrypt", "GenerateDataKey"], "arn:aws:kms:us-east-1:{a}:key/k-{n}"),
    "sqs": (["SendMessage", "ReceiveMessage"], "arn:aws:sqs:eu-west-1:{a}:q-{n}"),
    "dynamodb": (["GetItem", "PutItem", "Query"], "arn:aws:dynamodb:us-east-1:{a}:table/t{n}"),
    "iam": (["GetRole", "PassRole"], "arn:aws:iam::{a}:role/r{n}"),
    "sts": (["AssumeRole"], "arn:aws:iam::{a}:role/r{n}"),
}
CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
    {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "203.0.113.0/24"]}},
    {"NumericLessThan": {"s3:max-keys": "100"}},
    {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/deploy"}},
    {"StringNotEquals": {"aws:PrincipalAccount": "111122223333"}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}},
    {"ForAllValues:StringLike": {"aws:TagKeys": ["team*"]}},
    {"Null": {"aws:TokenIssueTime": "false"}},
    {"StringEqualsIfExists": {"aws:PrincipalTag/team": "blue"}},
]


def _pick(rng: random.Random, items: list[Any], k: int) -> list[Any]:
    return rng.sample(items, min(k, len(items)))


def _action_pattern(rng: random.Random) -> str | list[str]:
    service = rng.choice(list(SERVICES))
    names = SERVICES[service][0]
    shape = rng.random()
    if shape < 0.2:
        return f"{service}:*"
    if shape < 0.35:
        return f"{service}:{rng.choice(names)[:3]}*"
    if shape < 0.4:
        return "*"
    return [f"{service}:{n}" for n in _pick(rng, names, rng.randint(1, 3))]


def _resource_pattern(rng: random.Random, account: str) -> str | list[str]:
    service = rng.choice(list(SERVICES))
    template = SERVICES[service][1]
    shape = rng.random()
    if shape < 0.25:
        return "*"
    if shape < 0.4:
        return template.format(a="*", n="*", m="*")
    if shape < 0.5:
        return "arn:aws:s3:::home/${aws:username}/*"
    if shape < 0.55:
        return [template.format(a=account, n=n, m=n) for n in range(12)]
    return template.format(a=account, n=rng.randint(0, 3), m="*")


def _statement(rng: random.Random, account: str, effect: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect or rng.choice(["Allow"] * 4 + ["Deny"])}
    if rng.random() < 0.1:
        statement["NotAction"] = _action_pattern(rng)
    else:
        statement["Action"] = _action_pattern(rng)
    if rng.random() < 0.08:
        statement["NotResource"] = _resource_pattern(rng, account)
    else:
        statement["Resource"] = _resource_pattern(rng, account)
    if rng.random() < 0.35:
        statement["Condition"] = rng.choice(CONDITIONS)
    return statement


def _policy(rng: random.Random, account: str, size: int) -> dict[str, Any]:
    statements = [_statement(rng, account) for _ in range(size)]
    return {"Version": "2012-10-17", "Statement": statements}


def _caller(rng: random.Random, account: str) -> str:
    kind = rng.random()
    if kind < 0.3:
        return f"arn:aws:iam::{account}:user/{rng.choice(USERS)}"
    role = rng.choice(ROLES)
    if kind < 0.6:
        return f"arn:aws:iam::{account}:role/{role}"
    return f"arn:aws:sts::{account}:assumed-role/{role.rsplit('/', 1)[-1]}/s-{rng.randint(0, 3)}"


def _principal(rng: random.Random) -> Any:
    account = rng.choice(ACCOUNTS)
    return rng.choice(
        [
            "*",
            {"AWS": account},
            {"AWS": f"arn:aws:iam::{account}:root"},
            {"AWS": f"arn:aws:iam::{account}:role/{rng.choice(ROLES)}"},
            {"AWS": f"arn:aws:iam::{account}:user/{rng.choice(USERS)}"},
            {"AWS": [f"arn:aws:sts::{account}:assumed-role/deploy/s-0", account]},
            {"Service": "lambda.amazonaws.com"},
        ]
    )


def _resource_policy(rng: random.Random, service: str, owner: str) -> dict[str, Any]:
    statements = []
    if service == "kms":
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{owner}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        )
    for _ in range(rng.randint(1, 3)):
        statement = _statement(rng, owner, rng.choice(["Allow", "Allow", "Deny"]))
        statement["Principal"] = _principal(rng)
        if service == "sts":
            statement["Action"] = "sts:AssumeRole"
            statement.pop("Resource", None)
            statement.pop("NotResource", None)
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def _context(rng: random.Random, principal: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        "aws:PrincipalArn": principal,
        "aws:PrincipalAccount": principal.split(":")[4],
        "aws:RequestedRegion": rng.choice(["us-east-1", "eu-west-1", "ap-south-1"]),
        "aws:SecureTransport": rng.choice(["true", "false"]),
        "aws:SourceIp": rng.choice(["10.1.2.3", "198.51.100.7", "203.0.113.9"]),
        "aws:CurrentTime": "2026-03-01T12:00:00Z",
    }
    if ":user/" in principal:
        context["aws:username"] = principal.rsplit("/", 1)[-1]
    if rng.random() < 0.4:
        context["aws:TagKeys"] = _pick(rng, ["team", "env", "owner", "teamA"], rng.randint(1, 3))
    if rng.random() < 0.3:
        context["s3:max-keys"] = str(rng.choice([10, 500]))
    return context


def build_pairs(count: int = REQUESTS, seed: int = SEED) -> list[tuple[Request, Layers]]:
    """Return ``count`` seeded (request, layers) pairs."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        account = rng.choice(ACCOUNTS[:2])
        principal = _caller(rng, account)
        service = rng.choice(list(SERVICES))
        names, template = SERVICES[service]
        owner = account if rng.random() < 0.7 else rng.choice(ACCOUNTS)
        resource = template.format(a=owner, n=rng.randint(0, 3), m=rng.randint(0, 9))
        if service == "s3" and rng.random() < 0.3:
            resource = f"arn:aws:s3:::home/{rng.choice(USERS)}/x"
        request = Request(
            f"{service}:{rng.choice(names)}",
            resource,
            _context(rng, principal),
            principal=principal,
            unknown_keys=frozenset({"aws:PrincipalTag/team"})
            if rng.random() < 0.2
            else frozenset(),
            resource_account=owner,
        )
        layers = Layers(
            identity=[_policy(rng, account, rng.randint(2, 8)) for _ in range(rng.randint(1, 3))],
            boundaries=[_policy(rng, account, 3)] if rng.random() < 0.2 else None,
            session=_policy(rng, account, 2)
            if ":assumed-role/" in principal and rng.random() < 0.3
            else None,
            scps=[[_policy(rng, account, 2)]] if rng.random() < 0.3 else (),
            resource=_resource_policy(rng, service, owner) if rng.random() < 0.25 else None,
        )
        pairs.append((request, layers))
    return pairs


def measure(pairs: list[tuple[Request, Layers]]) -> float:
    """Return the requests per second of one pass over ``pairs``."""
    start = time.perf_counter()
    for request, layers in pairs:
        evaluate(request, layers)
    return len(pairs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pairs = build_pairs(args.requests)
    decisions: dict[str, int] = {}
    for request, layers in pairs:  # warm-up, and a check that the set decides every way
        value = evaluate(request, layers).decision.value
        decisions[value] = decisions.get(value, 0) + 1
    runs = [measure(pairs) for _ in range(args.repeat)]
    print(f"decisions: {dict(sorted(decisions.items()))}")
    print(
        f"evaluate: best {max(runs):,.0f} requests/s, median {statistics.median(runs):,.0f} "
        f"requests/s ({len(pairs):,} requests, {args.repeat} runs)"
    )


if __name__ == "__main__":
    main()
