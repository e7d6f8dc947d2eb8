"""Benchmark: the diff of 1,000 principals, each holding 10 policies with wildcards.

The lake is the generate benchmark's (150 accounts of the generator's organization, built once
into ``bench/corpus/generate-150``). The authorization details are written for it: every user and
role of the lake, and idle roles to make 1,000, each with 10 policies (three shared managed
policies, seven inline ones of its own) of wildcard actions and resources, written in
``bench/corpus/diff-auth.json``.

Measured in a fresh process, best and median of ``--repeat``: reading the details, the usage
query, generation of the narrower proposals, expansion and the diff of every principal, and
rendering the Markdown.

    .venv/bin/python bench/diff.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import build_lake  # the generate benchmark's lake
from ingest import run_measured  # shared with the ingest benchmark

ROOT = Path(__file__).resolve().parent.parent
AUTH = ROOT / "bench" / "corpus" / "diff-auth.json"
PRINCIPALS = 1000


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: Any, resources: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def write_details(lake: Path) -> None:
    """Write authorization details for the lake's users and roles, and idle roles to 1,000."""
    import trailmin

    frame = trailmin.principals(lake)
    arns = [
        str(a)
        for a in frame["principal"]
        if ":user/" in str(a) or (":role/" in str(a) and "aws-reserved" not in str(a))
    ]
    accounts = sorted({a.split(":")[4] for a in arns})
    n = 0
    while len(arns) < PRINCIPALS:
        arns.append(f"arn:aws:iam::{accounts[n % len(accounts)]}:role/idle-{n}")
        n += 1
    shared = {
        "ReadOnlyish": doc(allow(["ec2:Describe*", "s3:List*", "iam:Get*", "iam:List*"], "*")),
        "Logs": doc(allow("logs:*", "*")),
        "Observability": doc(allow(["cloudwatch:*", "xray:*"], "*")),
    }
    policies = [
        {
            "PolicyName": name,
            "Arn": f"arn:aws:iam::{accounts[0]}:policy/{name}",
            "DefaultVersionId": "v1",
            "PolicyVersionList": [{"Document": d, "VersionId": "v1", "IsDefaultVersion": True}],
        }
        for name, d in shared.items()
    ]
    roles, users = [], []
    for arn in arns:
        account = arn.split(":")[4]
        inline = [
            doc(allow("s3:*", f"arn:aws:s3:::acme-*-{account}-*/*")),
            doc(allow(["s3:Get*", "s3:Put*"], "arn:aws:s3:::*")),
            doc(allow("dynamodb:*", f"arn:aws:dynamodb:*:{account}:table/*")),
            doc(allow(["kms:Decrypt", "kms:GenerateDataKey*", "kms:Describe*"], "*")),
            doc(allow(["sqs:*", "sns:*"], f"arn:aws:*:*:{account}:*")),
            doc(allow(["lambda:*"], f"arn:aws:lambda:*:{account}:function:*")),
            doc(
                allow(["secretsmanager:GetSecretValue", "ssm:GetParameter*"], "*"),
                {"Effect": "Deny", "Action": "ssm:DeleteParameter*", "Resource": "*"},
            ),
        ]
        entry = {
            "Arn": arn,
            "Path": "/" + "/".join(arn.split(":", 5)[5].split("/")[1:-1]) + "/"
            if arn.count("/") > 1
            else "/",
            "AttachedManagedPolicies": [{"PolicyArn": p["Arn"]} for p in policies],
        }
        inline_list = [
            {"PolicyName": f"inline-{i}", "PolicyDocument": d} for i, d in enumerate(inline)
        ]
        name = arn.rsplit("/", 1)[-1]
        if ":user/" in arn:
            users.append(
                {**entry, "UserName": name, "UserPolicyList": inline_list, "GroupList": []}
            )
        else:
            roles.append({**entry, "RoleName": name, "RolePolicyList": inline_list})
    AUTH.write_text(
        json.dumps(
            {
                "UserDetailList": users,
                "RoleDetailList": roles,
                "GroupDetailList": [],
                "Policies": policies,
            }
        )
    )


RUN = """
import json, sys, time
began = time.perf_counter()
import trailmin
imported = time.perf_counter()
details = trailmin.authorization_details(auth_file=sys.argv[2])
read = time.perf_counter()
report = trailmin.diff(sys.argv[1], details)
diffed = time.perf_counter()
text = report.to_markdown()
done = time.perf_counter()
print(json.dumps({
    "seconds": done - began, "import": imported - began, "details": read - imported,
    "diff": diffed - read, "markdown": done - diffed, "principals": len(report.diffs),
    "policies": sum(len(d.policies) for d in report.diffs),
    "unused": sum(len(u.unused) for d in report.diffs for u in d.unused),
    "markdown_kb": len(text) // 1024,
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    lake = build_lake(150)
    if not AUTH.exists():
        write_details(lake)
    runs = []
    for _ in range(args.repeat):
        result, peak = run_measured([sys.executable, "-c", RUN, str(lake), str(AUTH)], "diff")
        result["peak_rss_mib"] = round(peak / 2**20)
        runs.append(result)
    if args.json:
        print(json.dumps(runs, indent=2))
        return
    seconds = [r["seconds"] for r in runs]
    best = min(runs, key=lambda r: r["seconds"])
    print(
        f"diff      best {min(seconds):.2f} s  median {statistics.median(seconds):.2f} s  "
        f"peak RSS {max(r['peak_rss_mib'] for r in runs):,} MiB  "
        f"{best['principals']:,} principals, {best['policies']:,} policies, "
        f"{best['unused']:,} unused actions listed, "
        f"{best['markdown_kb']:,} KiB of Markdown"
    )
    print(
        "steps     "
        + "  ".join(f"{k} {best[k]:.2f} s" for k in ("import", "details", "diff", "markdown"))
    )


if __name__ == "__main__":
    main()
