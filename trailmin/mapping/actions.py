"""Which IAM actions a CloudTrail event needed: eventSource → service prefix, eventName → actions.

Pure. The knowledge lives in the CSV files of ``data/`` (one line of provenance a row), loaded on
first use and checked against the catalog by the tests:

- ``event_sources.csv``: hosts whose service prefix is not the host's first label;
- ``event_actions.csv``: events curated by hand (renames, calls needing several actions);
- ``sdk_renames.csv``: plain renames derived from iam-dataset's SDK map
  (``scripts/derive_event_actions.py``);
- ``no_permission.csv``: calls that need no IAM permission.

Rules, in order: service events, sign-in events and Insights are classified, not mapped; then the
no-permission list; then the curated table; then ``prefix:eventName`` when the catalog has it;
then a version suffix stripped (``GetFunction20150331v2``) only when the stripped name is in the
catalog and the full one is not; then the derived renames; else the event is unmapped.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import resources

from trailmin.aws import catalog

# How an event's actions were found (or why it has none).
DIRECT = "direct"  # prefix:eventName is in the catalog
RENAMED = "renamed"  # one action, named otherwise (a table row or a stripped version suffix)
SEVERAL = "several"  # the call needs more than one action
NO_PERMISSION = "no-permission"  # the call needs no IAM permission
SERVICE_EVENT = "service-event"  # AwsServiceEvent: AWS acted, no principal's permission
SIGN_IN = "sign-in"  # console sign-in events: not IAM actions
INSIGHT = "insight"  # CloudTrail Insights: statistics, not calls
UNMAPPED = "unmapped"  # nothing known: reported, never guessed

STATUSES = (DIRECT, RENAMED, SEVERAL, NO_PERMISSION, SERVICE_EVENT, SIGN_IN, INSIGHT, UNMAPPED)

# API versions appended to some operation names: 20150331, 20150331v2, 2020_05_31.
VERSION_SUFFIX = re.compile(r"^(?P<name>.+?)(?:\d{8}(?:v\d+)?|\d{4}_\d{2}_\d{2})$")


@dataclass(frozen=True, slots=True)
class ActionMapping:
    """The actions one event needed, how they were found, and where that knowledge comes from."""

    status: str
    actions: tuple[str, ...]
    provenance: str


def data_files() -> list[str]:
    """Return the names of the mapping's data tables."""
    folder = resources.files("trailmin.mapping").joinpath("data")
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".csv"))


def data_file(name: str) -> str:
    """Return the text of one of the mapping's data tables."""
    return resources.files("trailmin.mapping").joinpath("data", name).read_text()


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(data_file(name).splitlines()))


@functools.cache
def _event_sources() -> dict[str, str]:
    return {row["event_source"]: row["service"] for row in _rows("event_sources.csv")}


@functools.cache
def _curated() -> dict[tuple[str, str], tuple[tuple[str, ...], str]]:
    return {
        (row["service"], row["event_name"]): (tuple(row["actions"].split()), row["provenance"])
        for row in _rows("event_actions.csv")
    }


@functools.cache
def _derived() -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (row["service"], row["event_name"]): (row["action"], row["provenance"])
        for row in _rows("sdk_renames.csv")
    }


@functools.cache
def _no_permission() -> dict[tuple[str, str], str]:
    return {
        (row["event_source"], row["event_name"]): row["provenance"]
        for row in _rows("no_permission.csv")
    }


def service_prefix(event_source: str) -> str:
    """Return the IAM service prefix of a CloudTrail ``eventSource`` host."""
    known = _event_sources().get(event_source)
    if known is not None:
        return known
    return event_source.split(".", 1)[0]


@functools.cache
def map_event(event_source: str, event_name: str, event_type: str | None = None) -> ActionMapping:
    """Return the IAM actions an event of this source, name and type needed, and how."""
    if event_type == "AwsServiceEvent":
        return ActionMapping(SERVICE_EVENT, (), "eventType AwsServiceEvent: AWS acted on its own")
    if event_type == "AwsCloudTrailInsight":
        return ActionMapping(INSIGHT, (), "eventType AwsCloudTrailInsight: statistics, no call")
    if event_type == "AwsConsoleSignIn" or event_source == "signin.amazonaws.com":
        return ActionMapping(SIGN_IN, (), "console sign-in: authenticates, not an IAM action")
    reason = _no_permission().get((event_source, event_name)) or _no_permission().get(
        (event_source, "*")
    )
    if reason is not None:
        return ActionMapping(NO_PERMISSION, (), reason)
    prefix = service_prefix(event_source)
    curated = _curated().get((prefix, event_name))
    if curated is not None:
        actions, provenance = curated
        status = SEVERAL if len(actions) > 1 else RENAMED
        if len(actions) == 1 and actions[0] == f"{prefix}:{event_name}":
            status = DIRECT
        return ActionMapping(status, actions, provenance)
    direct = catalog.action(f"{prefix}:{event_name}")
    if direct is not None:
        return ActionMapping(DIRECT, (direct.full_name,), "catalog: prefix:eventName")
    match = VERSION_SUFFIX.match(event_name)
    if match is not None:
        stripped = catalog.action(f"{prefix}:{match['name']}")
        if stripped is not None:
            return ActionMapping(
                RENAMED,
                (stripped.full_name,),
                f"API version suffix of {event_name} stripped; {stripped.full_name} is in the "
                "catalog and the full name is not",
            )
    derived = _derived().get((prefix, event_name))
    if derived is not None:
        return ActionMapping(RENAMED, (derived[0],), derived[1])
    return ActionMapping(
        UNMAPPED, (), f"neither {prefix}:{event_name} nor a known rename is in the catalog"
    )


def table_actions() -> list[tuple[str, str]]:
    """Return every (table file, action) the data tables name, for checking against the catalog."""
    found = [("event_actions.csv", a) for actions, _ in _curated().values() for a in actions]
    found += [("sdk_renames.csv", action) for action, _ in _derived().values()]
    return found


def table_services() -> list[tuple[str, str]]:
    """Return every (table file, service prefix) the data tables name."""
    found = [("event_sources.csv", prefix) for prefix in _event_sources().values()]
    found += [("event_actions.csv", prefix) for prefix, _ in _curated()]
    found += [("sdk_renames.csv", prefix) for prefix, _ in _derived()]
    return found
