"""Exceptions raised by trailmin's library code.

One root, so that a caller can catch everything trailmin raises on purpose::

    TrailminError
    ├── SourceError        a source cannot be read at all (missing path, unreachable bucket)
    │   └── SourceReadError    one object's download kept breaking off (after retries)
    ├── CredentialsError   AWS found no credentials or refused them (expired, invalid, no login)
    ├── LakeError          the lake directory is unusable (not a lake, other schema, bad manifest)
    │   └── LakeLockedError    another process holds the lake's lock
    └── UsageError         options that contradict each other or name nothing
        └── NothingMatched     a name or filter matched nothing in the lake (a misspelled ARN)

Problems inside the data (a truncated file, a record without ``eventTime``) are not exceptions:
they are reported as skipped sources and records with a reason, and the run goes on.
Messages state the fact, then the fix. Anything else escaping the library is a bug in trailmin.
"""

from __future__ import annotations

import os


class TrailminError(Exception):
    """The root of every error trailmin raises on purpose."""


class SourceError(TrailminError):
    """A source cannot be read at all."""

    @staticmethod
    def skip_reason(exc: BaseException) -> str:
        """Return the reason a source that could not be read is skipped with, ending with the fix.

        trailmin's own errors already say the fix; an operating-system error gets one: access for
        a permission error, a retry for anything else.
        """
        if isinstance(exc, TrailminError):
            return f"could not be read: {exc}"
        if isinstance(exc, PermissionError):
            return f"could not be read: {exc}; check access to it and run ingest again"
        return f"could not be read: {exc}; run ingest again to retry"


class SourceReadError(SourceError):
    """One source object could not be read, after retries; reading it again may succeed."""


class CredentialsError(TrailminError):
    """AWS found no credentials, or refused them: expired, invalid, or an SSO login missing."""


class LakeError(TrailminError):
    """The lake directory cannot be used as asked."""


class LakeLockedError(LakeError):
    """Another process is writing to the lake."""


class UsageError(TrailminError):
    """The options given contradict each other or select nothing."""


class NothingMatched(UsageError):
    """A name or filter matched nothing in the lake: said, never passed over as success."""


# AWS error codes that blame the request's credentials, not its permissions: the Common Errors of
# the AWS query APIs (ExpiredToken, InvalidClientTokenId, RequestExpired, SignatureDoesNotMatch),
# S3's error codes (ExpiredToken, InvalidAccessKeyId, InvalidToken, TokenRefreshRequired) and the
# JSON APIs' (ExpiredTokenException, UnrecognizedClientException). AccessDenied is not one of them.
EXPIRED_CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "RequestExpired"}
)
INVALID_CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
    }
)


def credentials_error(
    exc: BaseException, *, doing: str, profile: str | None = None
) -> CredentialsError | None:
    """Return the error saying what is wrong with the AWS credentials ``exc`` reports, or None
    when it reports something else.

    ``doing`` says what failed ("listing s3://b/p"); ``profile`` is the profile asked for, else
    ``AWS_PROFILE``'s. The message names the error's code or class, never a key, secret or token.
    """
    # botocore is imported by whoever called AWS and got ``exc``; not at trailmin's import.
    from botocore import exceptions as boto

    profile = profile or os.environ.get("AWS_PROFILE") or None
    whose = f"the credentials of profile {profile!r}" if profile else "the AWS credentials"
    login = f"aws sso login --profile {profile or '<profile>'}"
    if isinstance(exc, boto.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "RequestExpired":
            return CredentialsError(
                f"AWS refused the request while {doing} as expired ({code}): {whose} have "
                "expired, or this machine's clock is more than 15 minutes off; check the clock, "
                f"refresh the credentials (`{login}`, or new session credentials) and run again"
            )
        if code in EXPIRED_CREDENTIAL_CODES:
            return CredentialsError(
                f"{_capital(whose)} have expired ({code}) while {doing}; refresh them "
                f"(`{login}` for an SSO profile, else new session credentials from your identity "
                "provider or `aws sts assume-role`) and run again"
            )
        if code in INVALID_CREDENTIAL_CODES:
            return CredentialsError(
                f"AWS does not accept {whose} ({code}) while {doing}: the access key is unknown or "
                "deleted, the secret does not match it, or a session token is stale; check "
                "--profile and AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, "
                f"or log in again (`{login}`), and run again"
            )
        return None
    sso_errors = (boto.SSOTokenLoadError, boto.UnauthorizedSSOTokenError, boto.TokenRetrievalError)
    if isinstance(exc, sso_errors):
        of = f" of profile {profile!r}" if profile else ""
        return CredentialsError(
            f"The SSO login{of} has expired or was never made ({exc}) while {doing}; run `{login}` "
            "and run again"
        )
    if isinstance(exc, boto.NoCredentialsError):
        return CredentialsError(
            f"No AWS credentials found while {doing}; set --profile or AWS_PROFILE (after "
            f"`{login}` for an SSO profile), or run where a role provides them"
        )
    if isinstance(exc, boto.ConfigParseError):
        # The message names the file only ("Unable to parse config file: <path>").
        return CredentialsError(
            f"The AWS configuration cannot be read while {doing} ({exc}); fix that file "
            "(each line `key = value` under a `[profile]` header) or point AWS_CONFIG_FILE and "
            "AWS_SHARED_CREDENTIALS_FILE elsewhere, and run again"
        )
    if isinstance(exc, boto.PartialCredentialsError):
        return CredentialsError(
            f"{_capital(whose)} are incomplete while {doing} ({exc}); give both the access key "
            "and its secret (and the session token of temporary credentials), and run again"
        )
    return None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
