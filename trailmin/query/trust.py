"""Who assumed each role, as SQL text (DuckDB): the rows ``trailmin.iam.trust`` judges.

Pure: writes SQL, runs none (``trailmin.api.trust`` runs it). A role's account logs every
``AssumeRole``, ``AssumeRoleWithWebIdentity`` and ``AssumeRoleWithSAML`` of it (CloudTrail user
guide, "AWS STS API calls"): the caller in ``userIdentity`` (an IAM user or role session, a
service in ``invokedBy``, another account's principal known only by its ``principalId``, a web
identity whose ``principalId`` is ``<provider>:<audience>:<subject>``, a SAML user), and in
``requestParameters`` the role (``roleArn``), the ``externalId`` when one was given, the
``sourceIdentity``, the session ``tags`` and, for SAML, the provider (``principalArn``). A
refused call often lacks the parameters; the role is then in the error message ("… is not
authorized to perform: sts:AssumeRole on resource: arn:aws:iam::…:role/…").

Rows are grouped by everything a trust policy can be written from, with the calls counted and
the first and last seen; the window is the ``Filters``' (its ``principals`` match the role, not
the caller).
"""

from __future__ import annotations

from trailmin.query.sql import DUCKDB, Filters, event_conditions, principal_condition

# The calls that assume a role, by the trust-policy action that authorizes them.
ASSUME_ACTIONS = {
    "AssumeRole": "sts:AssumeRole",
    "AssumeRoleWithWebIdentity": "sts:AssumeRoleWithWebIdentity",
    "AssumeRoleWithSAML": "sts:AssumeRoleWithSAML",
}

_PARAM = "json_extract_string(e.request_parameters, '$.{}')"
_ROLE = (
    f"coalesce({_PARAM.format('roleArn')}, "
    r"regexp_extract(e.error_message, 'on resource: (arn:[^ ]+:role/[^ ]+)', 1))"
)


def assumptions_sql(filters: Filters) -> str:
    """Return the SQL of the window's role assumptions, one row per distinct caller, role and
    request shape, with ``calls``, ``first_seen`` and ``last_seen``."""
    window = Filters(
        start=filters.start, end=filters.end, accounts=filters.accounts, regions=filters.regions
    )
    conditions = event_conditions(window, DUCKDB, principal_required=False)
    names = ", ".join(f"'{name}'" for name in ASSUME_ACTIONS)
    conditions += ["e.event_source = 'sts.amazonaws.com'", f"e.event_name IN ({names})"]
    role_filter = (
        f"WHERE {principal_condition(filters.principals, 'role_arn')}" if filters.principals else ""
    )
    return f"""
WITH calls AS (
  SELECT
    e.event_name,
    nullif(regexp_replace({_ROLE}, '[.,;]+$', ''), '') AS role_arn,
    e.principal_arn AS caller_arn,
    e.principal_type AS caller_type,
    e.principal_id AS caller_id,
    e.principal_account_id AS caller_account,
    e.user_name,
    e.invoked_by,
    e.recipient_account_id,
    {_PARAM.format("externalId")} AS external_id,
    {_PARAM.format("sourceIdentity")} AS source_identity,
    {_PARAM.format("principalArn")} AS saml_provider,
    coalesce(json_array_length(json_extract(e.request_parameters, '$.tags')), 0) > 0 AS tagged,
    e.error_code,
    e.event_time
  FROM events AS e
  WHERE {" AND ".join(conditions)}
)
SELECT
  event_name, role_arn, caller_arn, caller_type, caller_id, caller_account, user_name,
  invoked_by, recipient_account_id, external_id, source_identity, saml_provider, tagged,
  error_code, count(*) AS calls, min(event_time) AS first_seen, max(event_time) AS last_seen
FROM calls
{role_filter}
GROUP BY ALL
ORDER BY role_arn NULLS LAST, event_name, caller_arn NULLS LAST, caller_id NULLS LAST,
  external_id NULLS FIRST, user_name NULLS FIRST, recipient_account_id, error_code NULLS FIRST
"""


def callers_by_id_sql(ids: list[str]) -> str:
    """Return the SQL of the IAM users and roles the lake knows by their unique IDs (``AIDA…``,
    ``AROA…``): another account's caller appears in the role's account only by its
    ``principalId``, and in its own account's logs with its ARN."""
    listed = ", ".join("'" + i.replace("'", "''") + "'" for i in sorted(set(ids))) or "NULL"
    return f"""
SELECT DISTINCT split_part(principal_id, ':', 1) AS unique_id, principal_arn
FROM events
WHERE principal_type IN ('IAMUser', 'Role', 'IdentityCenterRole', 'ServiceLinkedRole')
  AND principal_arn IS NOT NULL
  AND split_part(principal_id, ':', 1) IN ({listed})
ORDER BY unique_id, principal_arn
"""
