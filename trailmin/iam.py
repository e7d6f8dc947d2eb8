"""Read what principals hold from AWS IAM: the one call trailmin makes to IAM, read-only.

``iam:GetAccountAuthorizationDetails``, every page, for users, groups, roles and the managed
policies they use (AWS-managed ones included, with their documents). Credentials come from boto3's
standard chain.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from trailmin.current import merge_pages
from trailmin.errors import TrailminError, UsageError


class IamError(TrailminError):
    """IAM could not be read."""


def fetch_authorization_details(
    *,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Return the account's authorization details, every page merged."""
    config = Config(retries={"mode": "standard", "max_attempts": 10}, user_agent_extra="trailmin")
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region or "us-east-1")
        client = session.client("iam", endpoint_url=endpoint_url, config=config)
        paginator = client.get_paginator("get_account_authorization_details")
        pages = list(
            paginator.paginate(
                Filter=["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]
            )
        )
    except ProfileNotFound as exc:
        raise UsageError(
            f"AWS profile {exc.kwargs.get('profile')!r} is not configured; "
            "check --profile, AWS_PROFILE and ~/.aws/config"
        ) from exc
    except NoCredentialsError as exc:
        raise IamError(
            "no AWS credentials found; set AWS_PROFILE or --profile, or use --auth-file with "
            "the output of `aws iam get-account-authorization-details`"
        ) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise IamError(
            f"IAM GetAccountAuthorizationDetails failed: {error.get('Code')}: "
            f"{error.get('Message')}; the caller needs iam:GetAccountAuthorizationDetails"
        ) from exc
    except BotoCoreError as exc:
        raise IamError(f"IAM could not be reached: {exc}") from exc
    return merge_pages([dict(page) for page in pages])


def fetch_credential_report(
    *,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    wait_seconds: float = 30.0,
) -> str:
    """Return the account's credential report (CSV text), asking IAM to generate it first.

    ``GenerateCredentialReport`` is a read-level action: it builds the report, it changes nothing.
    """
    import time

    config = Config(retries={"mode": "standard", "max_attempts": 10}, user_agent_extra="trailmin")
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region or "us-east-1")
        client = session.client("iam", endpoint_url=endpoint_url, config=config)
        deadline = time.monotonic() + wait_seconds
        while client.generate_credential_report()["State"] != "COMPLETE":
            if time.monotonic() > deadline:
                raise IamError("the credential report was not ready in time; try again shortly")
            time.sleep(1)
        content = client.get_credential_report()["Content"]
    except NoCredentialsError as exc:
        raise IamError(
            "no AWS credentials found; set AWS_PROFILE, or give --credential-report with a "
            "saved report (aws iam get-credential-report)"
        ) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise IamError(
            f"IAM credential report failed: {error.get('Code')}: {error.get('Message')}; the "
            "caller needs iam:GenerateCredentialReport and iam:GetCredentialReport"
        ) from exc
    except BotoCoreError as exc:
        raise IamError(f"IAM could not be reached: {exc}") from exc
    return content.decode() if isinstance(content, bytes) else str(content)
