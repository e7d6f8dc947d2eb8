"""Access Advisor (IAM "service last accessed"): a second usage signal for the diff.

Pure. ``read_access_advisor`` reads a JSON file that maps each user's or role's ARN to the output
of ``aws iam get-service-last-accessed-details --job-id …`` for the job generated for that ARN::

    {"arn:aws:iam::111122223333:role/app": {"JobStatus": "COMPLETED", "ServicesLastAccessed": …}}

The output does not name the principal it was generated for, so the file does, in the one place
that cannot drift from the data: the key. A value may also be a list of pages (the output with
``--marker``). Each report is checked against its key: the ``LastAuthenticatedEntity`` of a user's
or role's report is that user or role (the API reference of GetServiceLastAccessedDetails), so a
report filed under the wrong ARN is refused rather than used for the wrong principal.

What a report can say (IAM User Guide, "Refining permissions using last accessed information";
API reference of GenerateServiceLastAccessedDetails): per service the identity policies allow,
the most recent *attempt* (denied ones count) by the principal, its region, or nothing when there
was none in the tracking period (at least the last 400 days); with ``ACTION_LEVEL`` granularity,
the same for the actions IAM tracks. Recent activity usually appears within four hours, so a
report is blind to about the four hours before its ``JobCreationDate``. Only the most recent
attempt is kept: a ``LastAuthenticated`` at or after the window's start is an attempt in the
window or after it; one before the start says there was none from the start until the report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from trailmin.errors import UsageError
from trailmin.iam.details import iam_time
from trailmin.query.sql import Window

LAG = timedelta(hours=4)  # "Recent activity usually appears within four hours"
TRACKING_DAYS = 400  # "IAM reports activity for at least the last 400 days"
_PRINCIPAL = re.compile(r"^arn:[\w-]+:iam::(\d{12}):(user|role)/(?:.*/)?([^/]+)$")
FORMAT = '{"<user or role ARN>": <output of aws iam get-service-last-accessed-details>, …}'
HOW = (
    "generate each report with `aws iam generate-service-last-accessed-details --arn ARN`, save "
    "`aws iam get-service-last-accessed-details --job-id JOB` once its JobStatus is COMPLETED, "
    f"and write the file as {FORMAT}"
)


@dataclass(frozen=True, slots=True)
class LastAccess:
    """The most recent attempt Access Advisor reports, or none (``when`` None)."""

    when: datetime | None  # UTC; None: no attempt in the tracking period
    region: str | None = None
    entity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the attempt as JSON values (the time in ISO 8601, UTC)."""
        return {
            "last_authenticated": None if self.when is None else self.when.isoformat(),
            "region": self.region,
            "entity": self.entity,
        }


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    """What Access Advisor reports of one service."""

    namespace: str  # the service prefix of its actions, lower case: "s3"
    name: str  # "Amazon S3"
    last: LastAccess
    entities: int | None = None  # TotalAuthenticatedEntities
    actions: Mapping[str, LastAccess] = field(default_factory=dict)  # ACTION_LEVEL: "s3:GetObject"


@dataclass(frozen=True, slots=True)
class AccessAdvisor:
    """One user's or role's Access Advisor report."""

    principal: str
    granularity: str  # "SERVICE_LEVEL" or "ACTION_LEVEL"
    created: datetime | None  # JobCreationDate: the report is blind to about LAG before it
    completed: datetime | None
    services: Mapping[str, ServiceAccess]  # by namespace
    truncated: bool = False  # the last page says IsTruncated: later services are missing

    def service(self, namespace: str) -> ServiceAccess | None:
        """Return what the report says of the service ``namespace``, or None if it lists none."""
        return self.services.get(namespace.lower())

    def summary(self) -> dict[str, Any]:
        """Return the report's job as JSON values."""
        return {
            "granularity": self.granularity,
            "job_created": None if self.created is None else self.created.isoformat(),
            "job_completed": None if self.completed is None else self.completed.isoformat(),
            "services": len(self.services),
            "truncated": self.truncated,
        }


def read_access_advisor(fp: IO[bytes], *, source: str) -> dict[str, AccessAdvisor]:
    """Return the Access Advisor reports in a JSON stream, by principal ARN."""
    try:
        data = json.loads(fp.read())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not JSON ({exc.msg} at line {exc.lineno}); {HOW}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{source} is not JSON text (not UTF-8); {HOW}") from None
    return parse_access_advisor(data, source=source)


def parse_access_advisor(data: Any, *, source: str) -> dict[str, AccessAdvisor]:
    """Return the reports of ``{"<principal ARN>": <output or [pages]>}``, by principal ARN."""
    if isinstance(data, Mapping) and ("JobStatus" in data or "ServicesLastAccessed" in data):
        raise UsageError(
            f"{source} is one get-service-last-accessed-details output, which does not name its "
            'principal; put it under the ARN given to generate-service-last-accessed-details: {"'
            'arn:aws:iam::111122223333:role/NAME": <the output>} (for example with '
            "`jq -n --arg arn ARN --slurpfile r FILE '{($arn): $r[0]}'`)"
        )
    if not isinstance(data, Mapping) or not data:
        raise UsageError(f"{source} is not an Access Advisor file; {HOW}")
    found: dict[str, AccessAdvisor] = {}
    for key, value in data.items():
        principal = str(key)
        if _PRINCIPAL.match(principal) is None:
            raise UsageError(
                f"{source}: {principal!r} is not the ARN of an IAM user or role; each key is the "
                "ARN the report was generated for (reports of groups and policies are not used)"
            )
        pages = value if isinstance(value, list) else [value]
        found[principal] = _report(principal, pages, f"{source}, {principal}")
    return found


def _report(principal: str, pages: Sequence[Any], where: str) -> AccessAdvisor:
    if not pages or not all(
        isinstance(p, Mapping) and isinstance(p.get("ServicesLastAccessed"), list) for p in pages
    ):
        raise UsageError(
            f"{where}: not the output of get-service-last-accessed-details (no "
            f"ServicesLastAccessed list); {HOW}"
        )
    first = pages[0]
    for page in pages:
        status = page.get("JobStatus")
        if status == "FAILED":
            error = page.get("Error") or {}
            raise UsageError(
                f"{where}: the job FAILED ({error.get('Code')}: {error.get('Message')}); generate "
                "the report again"
            )
        if status != "COMPLETED":
            raise UsageError(
                f"{where}: JobStatus is {status!r}, not COMPLETED; run "
                "get-service-last-accessed-details again until it is, and save that output"
            )
        if page.get("JobCreationDate") != first.get("JobCreationDate"):
            raise UsageError(f"{where}: the pages are of different jobs (JobCreationDate differs)")
    services: dict[str, ServiceAccess] = {}
    for page in pages:
        for item in page["ServicesLastAccessed"]:
            service = _service(item, where)
            _check_entity(principal, service.last.entity, where, service.namespace)
            for access in service.actions.values():
                _check_entity(principal, access.entity, where, service.namespace)
            services[service.namespace] = service
    return AccessAdvisor(
        principal=principal,
        granularity=str(first.get("JobType") or "SERVICE_LEVEL"),
        created=_time(first.get("JobCreationDate"), where, "JobCreationDate"),
        completed=_time(first.get("JobCompletionDate"), where, "JobCompletionDate"),
        services=services,
        truncated=bool(pages[-1].get("IsTruncated")),
    )


def _service(item: Any, where: str) -> ServiceAccess:
    namespace = item.get("ServiceNamespace") if isinstance(item, Mapping) else None
    if not isinstance(namespace, str) or not re.fullmatch(r"[\w-]+", namespace):
        raise UsageError(
            f"{where}: an entry of ServicesLastAccessed has no ServiceNamespace; save the "
            "output of get-service-last-accessed-details unchanged"
        )
    prefix = namespace.lower()
    context = f"{where}, {namespace}"
    actions: dict[str, LastAccess] = {}
    tracked = item.get("TrackedActionsLastAccessed") or []
    if not isinstance(tracked, list):
        raise UsageError(f"{context}: TrackedActionsLastAccessed is not a list")
    for entry in tracked:
        name = entry.get("ActionName") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name:
            continue  # "Required: No": an entry without a name says nothing usable
        action = name if ":" in name else f"{prefix}:{name}"
        actions[action.lower()] = LastAccess(
            _time(entry.get("LastAccessedTime"), context, "LastAccessedTime"),
            _text(entry.get("LastAccessedRegion")),
            _text(entry.get("LastAccessedEntity")),
        )
    entities = item.get("TotalAuthenticatedEntities")
    return ServiceAccess(
        namespace=prefix,
        name=str(item.get("ServiceName") or namespace),
        last=LastAccess(
            _time(item.get("LastAuthenticated"), context, "LastAuthenticated"),
            _text(item.get("LastAuthenticatedRegion")),
            _text(item.get("LastAuthenticatedEntity")),
        ),
        entities=entities if isinstance(entities, int) else None,
        actions=actions,
    )


def _check_entity(principal: str, entity: str | None, where: str, namespace: str) -> None:
    """Refuse a report whose entity is another user or role: it was filed under the wrong ARN.
    Compared by account, kind and name, so a path shown or not makes no difference."""
    if entity is None:
        return
    wanted, seen = _PRINCIPAL.match(principal), _PRINCIPAL.match(entity)
    if wanted is not None and seen is not None and wanted.groups() != seen.groups():
        raise UsageError(
            f"{where}: the report is of {entity} (LastAuthenticatedEntity of {namespace}), not "
            "of the ARN it is filed under; put each report under the ARN it was generated for"
        )


def _time(value: Any, where: str, name: str) -> datetime | None:
    if value is None:
        return None
    moment = iam_time(value)
    if moment is None:
        raise UsageError(f"{where}: {name} {value!r} is not an ISO 8601 time")
    return moment


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def window_bounds(window: Window | None) -> tuple[datetime, datetime] | None:
    """Return the start (inclusive) and end (exclusive) of ``window`` that an Access Advisor time
    is compared with: its bounds, else those of the events it covers; None without either."""
    if window is None:
        return None
    start = window.start or window.first_event
    end = window.end or (
        window.last_event + timedelta(microseconds=1) if window.last_event else None
    )
    if start is None or end is None:
        return None
    return start, end


def since(access: LastAccess | None, start: datetime) -> LastAccess | None:
    """Return ``access`` if it is an attempt at or after ``start``, else None."""
    if access is None or access.when is None or access.when < start:
        return None
    return access
