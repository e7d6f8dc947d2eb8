"""Read what principals hold from AWS IAM: read-only calls, nothing else.

``iam:GetAccountAuthorizationDetails``, every page, for users, groups, roles and the managed
policies they use (AWS-managed ones included, with their documents); and the credential report
(``GenerateCredentialReport`` builds it, a read-level action, and ``GetCredentialReport`` returns
it); and the account password policy (``GetAccountPasswordPolicy``). Credentials come from
boto3's standard chain.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from trailmin.errors import TrailminError, UsageError, credentials_error
from trailmin.iam.details import merge_pages

_DENIED = {"AccessDenied", "AccessDeniedException"}


class IamError(TrailminError):
    """IAM could not be read."""


def _client(profile: str | None, region: str | None, endpoint_url: str | None) -> Any:
    config = Config(retries={"mode": "standard", "max_attempts": 10}, user_agent_extra="trailmin")
    session = boto3.session.Session(profile_name=profile, region_name=region or "us-east-1")
    return session.client("iam", endpoint_url=endpoint_url, config=config)


@contextlib.contextmanager
def _reading(what: str, needs: str, offline: str, profile: str | None) -> Iterator[None]:
    """Turn boto3's errors while reading ``what`` into errors that say the fix: credentials
    AWS refuses or cannot find are a ``CredentialsError``, never a missing permission."""
    try:
        yield
    except ProfileNotFound as exc:
        raise UsageError(
            f"AWS profile {exc.kwargs.get('profile')!r} is not configured; "
            "check --profile, AWS_PROFILE and ~/.aws/config"
        ) from exc
    except ClientError as exc:
        _raise_if_credentials(exc, what, offline, profile)
        error = exc.response.get("Error", {})
        code = error.get("Code")
        # Only a refusal means a missing permission; throttling or a failure of IAM does not.
        fix = f"the caller needs {needs}" if code in _DENIED else "try again shortly"
        raise IamError(f"IAM {what} failed: {code}: {error.get('Message')}; {fix}") from exc
    except BotoCoreError as exc:
        _raise_if_credentials(exc, what, offline, profile)
        raise IamError(f"IAM could not be reached: {exc}") from exc


def _raise_if_credentials(
    exc: ClientError | BotoCoreError, what: str, offline: str, profile: str | None
) -> None:
    problem = credentials_error(exc, doing=f"reading IAM {what}", profile=profile)
    if problem is not None:
        raise type(problem)(f"{problem}; or use {offline}") from exc


def fetch_authorization_details(
    *,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Return the account's authorization details, every page merged."""
    with _reading(
        "GetAccountAuthorizationDetails",
        "iam:GetAccountAuthorizationDetails",
        "--auth-file with the output of `aws iam get-account-authorization-details`",
        profile,
    ):
        paginator = _client(profile, region, endpoint_url).get_paginator(
            "get_account_authorization_details"
        )
        pages = list(
            paginator.paginate(
                Filter=["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]
            )
        )
    return merge_pages([dict(page) for page in pages])


def fetch_credential_report(
    *,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    wait_seconds: float = 30.0,
) -> str:
    """Return the account's credential report (CSV text), asking IAM to generate it first."""
    with _reading(
        "credential report",
        "iam:GenerateCredentialReport and iam:GetCredentialReport",
        "--credential-report with a saved report (aws iam get-credential-report)",
        profile,
    ):
        client = _client(profile, region, endpoint_url)
        deadline = time.monotonic() + wait_seconds
        while client.generate_credential_report()["State"] != "COMPLETE":
            if time.monotonic() > deadline:
                raise IamError("the credential report was not ready in time; try again shortly")
            time.sleep(1)
        content = client.get_credential_report()["Content"]
    return content.decode() if isinstance(content, bytes) else str(content)


def fetch_password_policy(
    *,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Return the account password policy (``{}`` when the account has none: IAM answers
    ``NoSuchEntity``)."""
    with _reading(
        "GetAccountPasswordPolicy",
        "iam:GetAccountPasswordPolicy",
        "--password-policy with the output of `aws iam get-account-password-policy`",
        profile,
    ):
        client = _client(profile, region, endpoint_url)
        try:
            answer = client.get_account_password_policy()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return {}
            raise
    return dict(answer.get("PasswordPolicy") or {})
