"""Write examples/trailmin-policy.json: the least-privilege policy trailmin itself needs.

trailmin makes these calls, all of the Read or List access level: ListObjectsV2 on the trail bucket
(under the AWSLogs/ prefix) and GetObject on each log file (ingest, run, propose);
GetAccountAuthorizationDetails (--from-aws, from_aws = true); GenerateCredentialReport and
GetCredentialReport (audit --from-aws without a saved --credential-report); GetAccountPasswordPolicy
(audit --from-aws without a saved --password-policy). This script writes the
CloudTrail records those calls produce (as a trail with S3 data events logs them) for a run over two
accounts and two regions, ingests them and lets trailmin generate the policy, with prefix
generalization so that the log files of any day collapse to the logs' path. Tests check that the
committed file is what it writes (``--stdout`` prints it instead), and that it allows every call
trailmin makes against moto's server (tests/test_examples.py).
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trailmin  # noqa: E402
from trailmin.policy.generate import Options  # noqa: E402

ACCOUNT = "111122223333"
BUCKET = "org-trail-bucket"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/trailmin-propose"


def records() -> list[dict]:
    identity = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLETRAILMIN:gha",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/trailmin-propose/gha",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLETRAILMIN",
                "arn": ROLE,
                "accountId": ACCOUNT,
                "userName": "trailmin-propose",
            },
            "attributes": {"creationDate": "2026-10-05T03:00:00Z", "mfaAuthenticated": "false"},
        },
    }
    found = []

    def call(
        n: int, source: str, name: str, params: dict, resources: list[str], data: bool
    ) -> None:
        found.append(
            {
                "eventVersion": "1.09",
                "userIdentity": identity,
                "eventTime": f"2026-10-05T03:{n // 60:02d}:{n % 60:02d}Z",
                "eventSource": source,
                "eventName": name,
                "awsRegion": "us-east-1",
                "sourceIPAddress": "203.0.113.10",
                "userAgent": "trailmin/0.1.0 Boto3/1.35",
                "requestParameters": params,
                "responseElements": None,
                "eventID": f"self-{n}",
                "readOnly": True,
                "resources": [
                    {"ARN": r, "type": "AWS::S3::Object" if "/" in r else "AWS::S3::Bucket"}
                    for r in resources
                ],
                "eventType": "AwsApiCall",
                "managementEvent": not data,
                "eventCategory": "Data" if data else "Management",
                "recipientAccountId": ACCOUNT,
            }
        )

    n = 0
    for account in (ACCOUNT, "444455556666"):
        for region in ("us-east-1", "eu-west-1"):
            prefix = f"AWSLogs/{account}/CloudTrail/{region}/2026/10/05/"
            call(
                n,
                "s3.amazonaws.com",
                "ListObjects",
                {"bucketName": BUCKET, "prefix": prefix, "list-type": "2"},
                [f"arn:aws:s3:::{BUCKET}"],
                True,
            )
            n += 1
            for hour in range(3):
                key = f"{prefix}{account}_CloudTrail_{region}_20261005T0{hour}00Z_abc{hour}.json.gz"
                call(
                    n,
                    "s3.amazonaws.com",
                    "GetObject",
                    {"bucketName": BUCKET, "key": key},
                    [f"arn:aws:s3:::{BUCKET}/{key}", f"arn:aws:s3:::{BUCKET}"],
                    True,
                )
                n += 1
    call(
        n,
        "iam.amazonaws.com",
        "GetAccountAuthorizationDetails",
        {"filter": ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]},
        [],
        False,
    )
    # audit --from-aws: the credential report, generated then read.
    call(n + 1, "iam.amazonaws.com", "GenerateCredentialReport", {}, [], False)
    call(n + 2, "iam.amazonaws.com", "GetCredentialReport", {}, [], False)
    # audit --from-aws: the account password policy.
    call(n + 3, "iam.amazonaws.com", "GetAccountPasswordPolicy", {}, [], False)
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        trail = Path(folder) / "trail.json.gz"
        trail.write_bytes(gzip.compress(json.dumps({"Records": records()}).encode(), mtime=0))
        lake = Path(folder) / "lake"
        trailmin.ingest([trail], lake=lake, workers=1)
        (proposal,) = trailmin.generate(
            lake,
            principals=[ROLE],
            options=Options(generalize="prefix", max_resources=1, name_prefix="trailmin-self"),
        )
    (policy,) = proposal.policies
    if "--stdout" in sys.argv:
        print(policy.to_json(), end="")  # for the test that compares it with the committed file
    else:
        (ROOT / "examples" / "trailmin-policy.json").write_text(policy.to_json())


if __name__ == "__main__":
    main()
