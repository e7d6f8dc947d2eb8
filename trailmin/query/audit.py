"""The IAM checklist's questions to the lake, as SQL text (DuckDB): the rows each check of
``trailmin.iam.audit`` judges.

Pure: writes SQL, runs none (``trailmin.api.audit`` runs it and hands the rows over). Every
query reads the window from ``start`` (inclusive) to the lake's newest event; the checks of
unusual activity split it at ``recent``, the start of the recent days compared with the
baseline before them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trailmin.query.sql import DUCKDB, denied_condition

# The columns of an event shown as a finding's evidence.
_EVIDENCE = (
    "principal_arn, principal_type, event_time, event_source, event_name, source_ip, "
    "user_agent, event_id, error_code, error_message"
)
_MFA_USED = "json_extract_string(additional_event_data, '$.MFAUsed')"
# The longest session sts:AssumeRoot opens (STS API reference, AssumeRoot: DurationSeconds, 900
# seconds at most, the default), and the slack allowed around it for clocks.
ASSUME_ROOT_SECONDS = 900
ASSUME_ROOT_SLACK = timedelta(seconds=60)
# The span within which two sessions of one IAM user count as at once (check 10).
SHARED_SESSION_MINUTES = 10


def _in_window(start: datetime) -> str:
    """Return the condition that an event is in the window from ``start``; on the ``date``
    partition too, so that only the window's partitions are read."""
    return (
        f"event_time >= {DUCKDB.timestamp(start)} "
        f"AND \"date\" >= DATE '{start.astimezone(UTC):%Y-%m-%d}'"
    )


def root_calls_sql(start: datetime) -> str:
    """Return the SQL of root's own calls, oldest first: not those a service made for it
    (invokedBy) or on its own (the filter of the CIS benchmark's root-usage alarm).

    Each call comes with who may have opened its session with ``sts:AssumeRoot`` (centralized
    root access): ``assumed_by``, the callers, and ``task_policies``. The session's records
    say only ``Root`` (the IAM user guide, "Track privileged tasks in AWS CloudTrail": the
    AssumeRoot call is logged with its caller, ``requestParameters.targetPrincipal`` the member
    account or its root's ARN, ``taskPolicyArn``), and the lake keeps neither the session's
    ``assumedRoot`` flag nor the access key the call returned: a call is matched to the
    AssumeRoot calls of its account whose session can hold it, from the call's time to its
    ``durationSeconds`` (900 at most) after, a minute's slack either side. Never a call made
    with a long-term (``AKIA``) key: a session's keys are temporary. An AssumeRoot call the
    lake does not hold (the management account's logs not ingested) leaves its session's calls
    looking like root's own.
    """
    earliest = start - timedelta(seconds=ASSUME_ROOT_SECONDS) - ASSUME_ROOT_SLACK
    slack = int(ASSUME_ROOT_SLACK.total_seconds())
    seconds = (
        "least(coalesce(TRY_CAST(json_extract_string(request_parameters, '$.durationSeconds') "
        f"AS INTEGER), {ASSUME_ROOT_SECONDS}), {ASSUME_ROOT_SECONDS})"
    )
    return f"""WITH root AS (
      SELECT {_EVIDENCE}, principal_account_id, access_key_id FROM events
      WHERE principal_type = 'Root' AND {_in_window(start)}
        AND invoked_by IS NULL AND coalesce(event_type, '') <> 'AwsServiceEvent'),
    assumed AS (
      SELECT event_time AS issued, principal_arn AS caller, {seconds} AS seconds,
             json_extract_string(request_parameters, '$.targetPrincipal') AS target,
             json_extract_string(request_parameters, '$.taskPolicyArn.arn') AS task_policy
      FROM events WHERE event_name = 'AssumeRoot' AND event_source = 'sts.amazonaws.com'
        AND error_code IS NULL AND principal_arn IS NOT NULL AND {_in_window(earliest)})
    SELECT r.principal_arn, r.principal_type, r.event_time, r.event_source, r.event_name,
           r.source_ip, r.user_agent, r.event_id, r.error_code, r.error_message,
           list_sort(list_distinct(list(a.caller) FILTER (WHERE a.caller IS NOT NULL)))
             AS assumed_by,
           list_sort(list_distinct(list(a.task_policy) FILTER (WHERE a.task_policy IS NOT NULL)))
             AS task_policies
    FROM root r LEFT JOIN assumed a
      ON (a.target = r.principal_account_id OR a.target = r.principal_arn)
      AND coalesce(r.access_key_id, '') NOT LIKE 'AKIA%'
      AND r.event_time >= a.issued - INTERVAL {slack} SECOND
      AND r.event_time <= a.issued + to_seconds(a.seconds + {slack})
    GROUP BY ALL
    ORDER BY r.event_time, r.event_id"""


def _signins(start: datetime) -> str:
    """Return the FROM and WHERE of the successful console sign-ins of users and root."""
    return f"""FROM events WHERE event_name = 'ConsoleLogin' AND {_in_window(start)}
        AND principal_type IN ('IAMUser', 'Root') AND error_code IS NULL
        AND error_message IS NULL"""


def signins_without_mfa_sql(start: datetime) -> str:
    """Return the SQL of the console sign-ins of users and root that say MFA was not used,
    oldest first."""
    return (
        f"SELECT {_EVIDENCE}, additional_event_data {_signins(start)} "
        f"AND {_MFA_USED} = 'No' ORDER BY event_time"
    )


def signins_unknown_mfa_sql(start: datetime) -> str:
    """Return the SQL counting the console sign-ins of users and root that do not say whether
    MFA was used (no ``MFAUsed``)."""
    return f"SELECT count(*) {_signins(start)} AND {_MFA_USED} IS NULL"


def long_term_keys_sql(start: datetime) -> str:
    """Return the SQL of the calls made with long-term (``AKIA…``) keys: a row per principal
    and key, with the addresses, user agents and time span of its calls."""
    return (
        "SELECT principal_arn, access_key_id, count(*) AS calls, "
        "list_sort(list_distinct(list(source_ip))) AS source_ips, "
        "list_sort(list_distinct(list(user_agent))) AS user_agents, "
        "bool_or(vpc_endpoint_id IS NOT NULL) AS via_vpc_endpoint, "
        "min(event_time) AS first_seen, max(event_time) AS last_seen FROM events "
        f"WHERE access_key_id LIKE 'AKIA%' AND principal_arn IS NOT NULL AND {_in_window(start)} "
        "GROUP BY ALL"
    )


def firsts_sql(start: datetime, recent: datetime) -> str:
    """Return the SQL of each principal's first use of each service, region and source address
    (``kind``, ``value``, ``first_seen``), with its baseline: its first event, and its events and
    active days before ``recent``. AWS services are left out."""
    before = DUCKDB.timestamp(recent)
    return f"""WITH e AS (
      SELECT principal_arn, event_time, split_part(event_source, '.', 1) AS service,
             aws_region AS region, source_ip
      FROM events WHERE principal_arn IS NOT NULL AND principal_type <> 'AWSService'
        AND {_in_window(start)}),
    baseline AS (SELECT principal_arn,
                   min(event_time) AS first_event,
                   count(*) FILTER (WHERE event_time < {before}) AS baseline_events,
                   count(DISTINCT CAST(event_time AS DATE))
                     FILTER (WHERE event_time < {before}) AS baseline_active_days
                 FROM e GROUP BY ALL),
    kinds AS (
      SELECT principal_arn, 'service' AS kind, service AS value,
             min(event_time) AS first_seen FROM e GROUP BY ALL
      UNION ALL
      SELECT principal_arn, 'region', region, min(event_time) FROM e
        WHERE region IS NOT NULL GROUP BY ALL
      UNION ALL
      SELECT principal_arn, 'network', source_ip, min(event_time) FROM e
        WHERE source_ip IS NOT NULL GROUP BY ALL)
    SELECT k.*, b.first_event, b.baseline_events, b.baseline_active_days
    FROM kinds k JOIN baseline b USING (principal_arn)
    ORDER BY principal_arn, kind, value"""


def refusals_sql(start: datetime, recent: datetime) -> str:
    """Return the SQL of each principal's refused calls: how many since ``recent`` and before
    it, and the calls refused since."""
    since = DUCKDB.timestamp(recent)
    return f"""SELECT principal_arn,
      count(*) FILTER (WHERE event_time >= {since}) AS recent_denied,
      count(*) FILTER (WHERE event_time < {since}) AS baseline_denied,
      list_sort(list_distinct(list(split_part(event_source, '.', 1) || ':' || event_name)
        FILTER (WHERE event_time >= {since}))) AS recent_calls
    FROM events WHERE principal_arn IS NOT NULL AND {_in_window(start)}
      AND {denied_condition("error_code")}
    GROUP BY ALL"""


def active_sql(start: datetime) -> str:
    """Return the SQL of who was active: the principals acting (by ARN, and by unique ID, which
    ignores paths), and the roles assumed (a role only a service uses shows no call of its own).
    Each row holds two of them, either may be null."""
    return f"""SELECT DISTINCT principal_arn AS a, split_part(principal_id, ':', 1) AS b
    FROM events WHERE {_in_window(start)}
    UNION
    SELECT DISTINCT json_extract_string(request_parameters, '$.roleArn'),
           unnest(list_transform(resources, lambda r: r.arn))
    FROM events WHERE {_in_window(start)} AND event_name LIKE 'AssumeRole%'
      AND error_code IS NULL"""


def shared_sessions_sql(start: datetime) -> str:
    """Return the SQL of what check 10 (``trailmin.iam.audit.shared_identities``) judges: the
    calls of IAM users a row per (principal_arn, credential: the access key, slot: the start of
    ``SHARED_SESSION_MINUTES`` minutes, source_ip, user_agent), with first_seen, last_seen and
    calls; only the users' slots with two addresses or more and two user agents or more, and
    only calls from IP addresses (not AWS services, not ``AWS Internal``). Cheap: it reads the
    IAM users' rows of the window's partitions, and what it returns is the few slots where a
    user was in two places."""
    return f"""WITH sessions AS (
      SELECT principal_arn, access_key_id AS credential,
             time_bucket(INTERVAL '{SHARED_SESSION_MINUTES} minutes', event_time) AS slot,
             source_ip, user_agent,
             min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS calls
      FROM events
      WHERE principal_type = 'IAMUser' AND {_in_window(start)} AND invoked_by IS NULL
        AND principal_arn IS NOT NULL AND coalesce(access_key_id, '') <> ''
        AND user_agent IS NOT NULL
        AND regexp_full_match(coalesce(source_ip, ''), '[0-9.]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*')
      GROUP BY ALL),
    busy AS (
      SELECT principal_arn, slot FROM sessions GROUP BY ALL
      HAVING count(DISTINCT source_ip) > 1 AND count(DISTINCT user_agent) > 1)
    SELECT s.* FROM sessions s JOIN busy USING (principal_arn, slot)
    ORDER BY principal_arn, slot, first_seen"""
