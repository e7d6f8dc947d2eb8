"""The scheduled job: from logs to a short list of what changed, for a reviewer and a pipeline.

``propose(config)`` ingests what is new, computes usage over the window, generates the
least-privilege policies, diffs them against what each principal holds, and writes the proposal
directory:

    <out>/index.md                 the reviewer's summary: what to review first (statements
                                   granting privilege escalation, defence evasion or permissions
                                   management; unusual activity), then largest reductions first
    <out>/proposals.json           the same for machines
    <out>/<principal>/             its policies (JSON, Terraform…), diff.md, diff.json and
                                   proposal.json (documents, evidence, refusals, ``review`` and
                                   ``unusual_activity``)

Every file's content is deterministic (no dates of the run, sorted everything), so a proposal
under version control shows a clean diff from one run to the next. A state file remembers each
principal's last proposal by digest: each run reports a principal as new, changed, unchanged or
gone, writes only what changed, and removes the folder of a principal that is gone. A principal
with no call in the window whose calls the lake still holds (the window moved past them) is
held: its last proposal is kept, and the reviewer told why.

The state file also keeps what each proposal grants (each action and its resources, no
evidence), so that index.md, the e-mail and the pull request's body, opens with what changed
since the last run: actions added, removed and rescoped, principals new, gone and held
(``compare``). Its time is that of the newest call the run read, not of the clock, and a run
that changes no proposal keeps the last comparison: a run that changes nothing rewrites nothing.

Exit codes (``EXIT_*``): 0 nothing to review; 3 new, changed, gone or held proposals; 2 an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailmin import api
from trailmin.aws import roles
from trailmin.iam.audit import Audit, unusual_by_principal
from trailmin.iam.details import AuthorizationDetails
from trailmin.iam.diff import Diff
from trailmin.iam.diff import to_markdown as diff_markdown
from trailmin.iam.trust import RoleTrust, TrustReport, render_trust
from trailmin.job.config import Config
from trailmin.policy.backtest import Result as BacktestResult
from trailmin.policy.generate import Options, Proposal, Used, generate, target_of, used_from_frame
from trailmin.policy.render import render
from trailmin.policy.review import Review, review
from trailmin.policy.review import markdown as review_markdown
from trailmin.query.sql import Filters, Window, principal_matcher
from trailmin.text import markdown as md
from trailmin.text.wording import counted

if TYPE_CHECKING:
    import pandas as pd

EXIT_NOTHING = 0
EXIT_ERROR = 2
EXIT_CHANGES = 3

NEW, CHANGED, UNCHANGED, GONE = "new", "changed", "unchanged", "gone"
# A principal the last run proposed for, with no call in this window although the lake holds
# its calls: its folder is kept and a person is told, rather than its permissions dropped.
HELD = "held"
# 2: each principal's ``granted``, the run's ``time`` and the ``changes`` index.md shows.
STATE_VERSION = 2
# At most this many actions of each kind (added, removed, rescoped) listed per principal, and
# this many resources on each side of a rescoped action.
LISTED_ACTIONS = 10
LISTED_RESOURCES = 3


@dataclass(frozen=True, slots=True)
class Status:
    """What this run found for one principal, against the last run."""

    principal: str
    folder: str
    status: str
    policies: int
    removed: int  # granted actions unused: what the proposal takes away
    services_dropped: int  # whole services unused
    scoped: int  # actions granted on a wildcard, used on a few ARNs
    candidates: int  # permissions asked for and refused
    not_granted: int
    skipped: str | None
    # The backtest: a proposal made from the first 2/3 of the window, replayed on the last 1/3.
    breakage: float | None = None  # the share of the later calls it refused (None: no figure)
    later_calls: int = 0
    broken: tuple[str, ...] = ()  # the refusals most called, "action on resource (cause)"
    # False in the logs-only mode: nothing was compared, so removed, dropped, scoped and
    # not granted are unknown (not zero).
    compared: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return the status as JSON-ready values; what nothing was compared with is null."""
        data = dataclasses.asdict(self)
        if not self.compared:
            data.update(removed=None, services_dropped=None, scoped=None, not_granted=None)
        return data


@dataclass(frozen=True, slots=True)
class Change:
    """How one principal's proposal differs from the last run's."""

    principal: str
    folder: str
    status: str  # NEW, CHANGED, GONE or HELD
    added: tuple[str, ...] = ()  # actions granted now, not before
    removed: tuple[str, ...] = ()  # actions granted before, not now
    # Actions granted before and now, on other resources: (action, before, now).
    rescoped: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    actions: int = 0  # NEW: the actions granted
    services: int = 0  # NEW: the services of those actions
    why: str | None = None  # GONE, HELD
    known: bool = True  # False: the last state did not record what it granted


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed since the last run: ``since`` is its time (None: not recorded), ``first``
    says there was no last run."""

    since: str | None
    first: bool
    principals: tuple[Change, ...] = ()
    unchanged: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the changes as JSON-ready values, as the state file keeps them: of each
        principal, only what is not the default."""
        defaults = {f.name: f.default for f in dataclasses.fields(Change)}
        return {
            "since": self.since,
            "first": self.first,
            "unchanged": self.unchanged,
            "principals": [
                {k: v for k, v in dataclasses.asdict(c).items() if v != defaults[k]}
                for c in self.principals
            ],
        }


@dataclass(slots=True)
class Summary:
    """The run: ingest figures, each principal's status, and the files written and removed."""

    events_ingested: int
    statuses: list[Status]
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped_sources: int = 0
    window: Window | None = None  # what the proposals were made from

    @property
    def changes(self) -> list[Status]:
        """Return the principals whose proposal is new, changed or gone."""
        return [s for s in self.statuses if s.status != UNCHANGED]

    @property
    def exit_code(self) -> int:
        """Return the documented exit code: 3 when there is something to review, else 0."""
        return EXIT_CHANGES if self.changes else EXIT_NOTHING

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready values."""
        return {
            "events_ingested": self.events_ingested,
            "skipped_sources": self.skipped_sources,
            "window": None if self.window is None else self.window.to_dict(),
            "principals": [s.to_dict() for s in self.statuses],
            "written": self.written,
            "removed": self.removed,
            "exit_code": self.exit_code,
        }


def propose(config: Config, *, on_progress: Callable[[str], None] | None = None) -> Summary:
    """Run the job described by ``config`` and return what it found and wrote."""
    say = on_progress or (lambda _message: None)
    say(f"ingesting {', '.join(config.sources)}")
    ingested = api.ingest(
        list(config.sources),
        lake=config.lake,
        profile=config.profile,
        endpoint_url=config.endpoint_url,
        client_region=config.client_region,
    )
    details = _current_details(config, say)
    scps = api.read_scps(config.scp_file) if config.scp_file is not None else None
    frame = api.usage(config.lake, days=config.days)
    filters = frame.attrs["filters"]
    covered: Window = frame.attrs["window"]
    say(covered.describe())
    used = _used(frame, config)
    options = Options(
        generalize=config.generalize,
        max_resources=config.max_resources,
        max_policies=config.max_policies,
        action_wildcards=config.action_wildcards,
    )
    window = (filters.start, filters.end) if filters.start and filters.end else None
    proposals = api.check_proposals(config.lake, generate(used, options, window=window), filters)
    backtests: dict[str, BacktestResult] = {}
    if any(p.policies for p in proposals):
        say("backtesting: proposals from the first 2/3 of the window, replayed on the rest")
        tested = api.backtest(config.lake, days=config.days, options=options)
        backtests = {r.principal: r for r in tested.results}
    diffs = {}
    if details is not None:
        report = api.diff(
            config.lake,
            details,
            days=config.days,
            scps=scps,
            used=used,
            proposals=proposals,
            with_trust=False,  # the trust is read below, for logs-only runs too
        )
        diffs = {d.principal: d for d in report.diffs}
        foreign = _other_accounts(details, used)
        if foreign:
            say(f"warning: {foreign}")
    if details is not None and config.groups:
        # Users who get their permissions from groups keep getting them from groups: a
        # proposal per group, and per user what none of its groups carries (IAM.2 moves).
        grouped = api.group_proposals(
            config.lake, details, options=options, used=used, days=config.days
        )
        members = {p.principal for p in grouped.users}
        proposals = sorted(
            [p for p in proposals if p.principal not in members]
            + [p for p in (*grouped.users, *grouped.groups) if _wanted(p.principal, "", config)],
            key=lambda p: p.principal,
        )
    say("reading who assumed each role")
    trusts = api.trust(config.lake, details, days=config.days)
    by_principal = {p.principal: p for p in proposals}
    principals = _principals_to_write(proposals, diffs, config)
    say("answering the IAM checklist")
    data_end = _newest(config.lake)
    checklist = api.audit(
        config.lake,
        details=details,
        credential_report=api.credential_report(report_file=config.credential_report),
        days=config.days,
        now=data_end,
        proposals=proposals,
    )
    # Before the files: each proposal.json says whether its principal's activity is unusual.
    unusual = unusual_by_principal(checklist.findings)
    say(f"writing proposals for {len(principals)} principals")
    state, meta = _read_state(config.state)
    folders: dict[str, dict[str, str]] = {}
    granted: dict[str, dict[str, tuple[str, ...]]] = {}
    statuses: list[Status] = []
    reviews: dict[str, Review] = {}
    for principal in principals:
        proposal = by_principal.get(principal) or Proposal(
            principal,
            _kind_of(principal),
            target_of(principal, _kind_of(principal))[0],
            skipped="no call of the window needed a permission",
        )
        reviews[principal] = review(proposal, unusual.get(principal, ()))
        granted[principal] = granted_by(proposal)
        files = _principal_files(
            proposal,
            diffs.get(principal),
            config,
            unusual=unusual,
            window=covered,
            trust=trusts.role(principal),
        )
        folder = proposal.slug
        folders[folder] = files
        digest = _digest(files)
        last = state.get(principal)
        status = NEW if last is None else UNCHANGED if last["digest"] == digest else CHANGED
        statuses.append(
            _status(
                proposal,
                diffs.get(principal),
                folder,
                status,
                backtests.get(principal),
                compared=details is not None,
            )
        )
    statuses += _no_longer_proposed(config, state, principals, filters)
    statuses.sort(key=_review_order)
    summary = Summary(
        ingested.events, statuses, skipped_sources=ingested.sources_skipped, window=covered
    )
    kept = _changes_from(meta.get("changes"))
    if state and kept is not None and all(s.status == UNCHANGED for s in statuses):
        # No proposal changed: index.md keeps saying what the last change was, and since when.
        changes, time = kept, meta.get("time")
    else:
        since = meta.get("time")
        changes = compare(statuses, granted, state, since=since if isinstance(since, str) else None)
        time = None if data_end is None else _day(data_end)
    _write(
        config,
        folders,
        statuses,
        summary,
        checklist,
        unusual=unusual,
        reviews=reviews,
        last=state,
        granted=granted,
        changes=changes,
        time=time,
        trust=trust_markdown(trusts, {s.principal: s.folder for s in statuses}),
    )
    return summary


def trust_markdown(report: TrustReport, folders: Mapping[str, str]) -> str:
    """Return index.md's section on who may assume each role: per role whose trust policy
    differs from its use or has a risky shape, one line, and where its proposal is; nothing when
    no role was assumed and the details hold none."""
    if not report.roles:
        return ""
    lines = ["## Trust policies", ""]
    shown = [r for r in report.roles if r.findings or (r.diff is not None and not r.diff.empty)]
    proposed = sum(1 for r in report.roles if r.proposal.document is not None)
    lines.append(
        f"{counted(proposed, 'role')} assumed in the window got a proposed trust policy "
        "(trust-policy.json in its folder; trust.json says who assumed it)."
        + ("" if shown else " No trust policy differs from its use.")
    )
    if shown:
        lines.append("")
    for item in shown:
        said = []
        if item.diff is not None:
            if item.diff.unused:
                said.append(f"{counted(len(item.diff.unused), 'principal')} trusted, never used")
            if item.diff.wider:
                said.append(f"{counted(len(item.diff.wider), 'entry', 'entries')} wider than used")
            if item.diff.untrusted:
                said.append(f"{len(item.diff.untrusted):,} used but not trusted")
            if item.diff.attempts:
                said.append(f"{counted(len(item.diff.attempts), 'refused attempt')}")
        said += [f"{f.severity} {f.code}" for f in item.findings]
        folder = folders.get(item.role)
        where = f" ({md.code(folder + '/')})" if folder else ""
        lines.append(f"- {md.code(item.role)}{where}: {md.text('; '.join(said))}")
    return "\n".join(lines) + "\n"


def _current_details(config: Config, say: Callable[[str], None]) -> AuthorizationDetails | None:
    """Return what principals hold, or None in the logs-only mode."""
    if config.logs_only:
        say("logs only: no authorization details, so nothing is compared with what is held")
        return None
    say("reading current policies")
    return api.authorization_details(
        auth_file=config.auth_file,
        from_aws=config.from_aws,
        profile=config.iam_profile,
        endpoint_url=config.iam_endpoint_url,
    )


def _used(frame: pd.DataFrame, config: Config) -> list[Used]:
    """Return the usage rows of the principals the job proposes for."""
    used = [u for u in used_from_frame(frame) if _wanted(u.principal, u.principal_type, config)]
    if config.accept_denied:
        # A person chose to grant what was refused: the refused calls count as authorized.
        used = [dataclasses.replace(u, authorized=u.granting + u.denied) for u in used]
    return used


def _principals_to_write(
    proposals: Sequence[Proposal], diffs: Mapping[str, Diff], config: Config
) -> list[str]:
    """Return the principals that get a folder: those proposed for, and those the diff covers."""
    return sorted(
        {p.principal for p in proposals if p.target is not None}
        | {arn for arn in diffs if _wanted(arn, _kind_of(arn), config)}
        # Asked for, the roles AWS manages get a folder that says why they get no policy; the
        # service-linked ones have no diff to come in by.
        | {
            p.principal
            for p in proposals
            if config.include_service_roles and _wanted(p.principal, p.principal_type, config)
        }
    )


def _no_longer_proposed(
    config: Config,
    state: Mapping[str, Mapping[str, Any]],
    principals: Sequence[str],
    filters: Filters,
) -> list[Status]:
    """Return the status of each principal the last run wrote and this one does not: held when
    the lake still has its calls outside the window, else gone."""
    missing = sorted(p for p in state if p not in principals)
    elsewhere = _activity_outside(config.lake, missing)
    found = []
    for principal in missing:
        folder = state[principal]["folder"]
        if principal not in elsewhere:
            found.append(Status(principal, folder, GONE, 0, 0, 0, 0, 0, 0, "no longer found"))
            continue
        calls, newest = elsewhere[principal]
        why = (
            f"no call in the window ({_day(filters.start)} to {_day(filters.end)}), though "
            f"the lake holds {calls:,} of its calls, the last on {_day(newest)}: the window "
            "may have moved past them (a record dated in the future, a shorter window); "
            "the last proposal is kept until a person removes its folder"
        )
        found.append(Status(principal, folder, HELD, 0, 0, 0, 0, 0, 0, why))
    return found


def granted_by(proposal: Proposal) -> dict[str, tuple[str, ...]]:
    """Return what ``proposal`` grants: each action, sorted, and its resources, sorted."""
    found: dict[str, set[str]] = defaultdict(set)
    for policy in proposal.policies:
        for statement in policy.statements:
            for action in statement.actions:
                found[action].update(statement.resources)
    return {action: tuple(sorted(found[action])) for action in sorted(found)}


def compare(
    statuses: Sequence[Status],
    granted: Mapping[str, Mapping[str, Sequence[str]]],
    last: Mapping[str, Mapping[str, Any]],
    *,
    since: str | None,
) -> Changes:
    """Return how this run's proposals (``statuses``, and what each grants) differ from the
    last run's, as its state file ``last`` keeps them (empty: there was no last run)."""
    found: list[Change] = []
    for s in statuses:
        now = granted.get(s.principal, {})
        if s.status == NEW:
            services = {action.split(":", 1)[0] for action in now}
            found.append(
                Change(s.principal, s.folder, NEW, actions=len(now), services=len(services))
            )
        elif s.status == CHANGED:
            before = _granted_in(last.get(s.principal, {}))
            if before is None:
                found.append(Change(s.principal, s.folder, CHANGED, known=False))
                continue
            both = sorted(now.keys() & before.keys())
            found.append(
                Change(
                    s.principal,
                    s.folder,
                    CHANGED,
                    added=tuple(sorted(now.keys() - before.keys())),
                    removed=tuple(sorted(before.keys() - now.keys())),
                    rescoped=tuple(
                        (a, before[a], tuple(sorted(now[a])))
                        for a in both
                        if before[a] != tuple(sorted(now[a]))
                    ),
                )
            )
        elif s.status in (GONE, HELD):
            found.append(Change(s.principal, s.folder, s.status, why=s.skipped))
    order = {NEW: 0, CHANGED: 1, GONE: 2, HELD: 3}
    found.sort(key=lambda c: (order[c.status], c.principal))
    return Changes(
        since=since,
        first=not last,
        principals=tuple(found),
        unchanged=sum(1 for s in statuses if s.status == UNCHANGED),
    )


def _granted_in(entry: Mapping[str, Any]) -> dict[str, tuple[str, ...]] | None:
    """Return what a state file's entry says its proposal granted; None when it does not say
    (a state written before trailmin kept it) or says it in another shape."""
    value = entry.get("granted")
    if not isinstance(value, dict):
        return None
    if not all(isinstance(r, list) and all(isinstance(x, str) for x in r) for r in value.values()):
        return None
    return {str(action): tuple(sorted(resources)) for action, resources in value.items()}


def _changes_from(data: Any) -> Changes | None:
    """Return the changes a state file keeps; None when it keeps none, or none it can read."""
    if not isinstance(data, dict):
        return None
    try:
        principals = tuple(
            Change(
                **{
                    **c,
                    "added": tuple(c.get("added", ())),
                    "removed": tuple(c.get("removed", ())),
                    "rescoped": tuple((a, tuple(b), tuple(n)) for a, b, n in c.get("rescoped", ())),
                }
            )
            for c in data["principals"]
        )
        since = data["since"]
        return Changes(
            since=since if isinstance(since, str) else None,
            first=bool(data["first"]),
            principals=principals,
            unchanged=int(data["unchanged"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _activity_outside(lake: Path, principals: Sequence[str]) -> dict[str, tuple[int, Any]]:
    """Return, for those of ``principals`` with calls in the lake, how many and the newest."""
    if not principals:
        return {}
    with contextlib.closing(api.connect(lake)) as db:
        rows = db.execute(
            "SELECT principal_arn, count(*), max(event_time) FROM events "
            "WHERE principal_arn IN (SELECT unnest(?)) GROUP BY 1",
            [list(principals)],
        ).fetchall()
    return {arn: (calls, newest) for arn, calls, newest in rows}


def _day(value: Any) -> str:
    return "the start" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def _newest(lake: Path) -> Any:
    """The lake's newest event time: the checklist's "now", so that its text depends on the
    data only and a run that changes nothing rewrites nothing."""
    import contextlib

    with contextlib.closing(api.connect(lake)) as db:
        return db.sql("SELECT max(event_time) FROM events").fetchall()[0][0]


def _wanted(arn: str, kind: str, config: Config) -> bool:
    """Return whether the job proposes for ``arn``: an IAM user or role that the config's
    ``include`` and ``exclude`` globs select, by the one rule of ``queries.Filters``."""
    if not arn.startswith("arn:") or not any(k in arn for k in (":user/", ":role/", ":group/")):
        return False
    if not config.include_service_roles and (
        kind == "ServiceLinkedRole" or roles.is_aws_managed(arn)
    ):
        return False
    if config.include and not principal_matcher(config.include)(arn):
        return False
    return not (config.exclude and principal_matcher(config.exclude)(arn))


def _kind_of(arn: str) -> str:
    if ":group/" in arn:
        return "Group"
    return "IAMUser" if ":user/" in arn else roles.role_type(arn)


def _principal_files(
    proposal: Proposal,
    diff: Diff | None,
    config: Config,
    *,
    unusual: Mapping[str, Iterable[str]],
    window: Window,
    trust: RoleTrust | None = None,
) -> dict[str, str]:
    """Return the files of one principal's folder, by name. A role's folder has its trust too:
    ``trust.json`` (who assumed it, the diff against today's trust policy, the findings) and the
    proposed trust policy in each format (``trust-policy.json``, ``trust.tf``, ``trust.yaml``).

    proposal.json says how the window was chosen, not its dates and counts: those move with
    every run, and a folder is rewritten only when its proposal changed (index.md says them).
    """
    files: dict[str, str] = {}
    rule = {k: v for k, v in window.to_dict().items() if k in ("days", "default", "rule")}
    for fmt in config.formats:
        for path, text in render([proposal], fmt, unusual=unusual, window=rule).items():
            if path == "index.json":
                continue
            name = path.split("/", 1)[1]
            files["proposal.json" if name == "index.json" else name] = text
    if diff is not None:
        files["diff.md"] = diff_markdown([diff])
        files["diff.json"] = diff.to_json()
    if trust is not None:
        files["trust.json"] = json.dumps(trust.to_dict(), indent=2, sort_keys=True, default=str)
        files["trust.json"] += "\n"
        for fmt in config.formats:
            for path, text in render_trust(TrustReport((trust,)), fmt).items():
                if path != "trust/index.json":
                    files[_TRUST_FILES[path.rsplit("/", 1)[1]]] = text
    return files


# The proposed trust policy's file in a role's folder, by the name render_trust gives it.
_TRUST_FILES = {
    "trust-policy.json": "trust-policy.json",
    "main.tf": "trust.tf",
    "template.yaml": "trust.yaml",
}


def _digest(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, text in sorted(files.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def _status(
    proposal: Proposal,
    diff: Diff | None,
    folder: str,
    status: str,
    backtest: BacktestResult | None = None,
    *,
    compared: bool = True,
) -> Status:
    tested = backtest is not None and backtest.proposed
    return Status(
        compared=compared,
        principal=proposal.principal,
        folder=folder,
        status=status,
        policies=len(proposal.policies),
        removed=sum(len(u.unused) for u in diff.unused) if diff else 0,
        services_dropped=sum(1 for u in diff.unused if u.whole) if diff else 0,
        scoped=len(diff.too_broad) if diff else 0,
        candidates=len(proposal.refused),
        not_granted=len(diff.not_granted) if diff else 0,
        skipped=proposal.skipped,
        breakage=backtest.breakage if tested and backtest is not None else None,
        later_calls=backtest.later_calls if tested and backtest is not None else 0,
        broken=tuple(
            f"{b.action} on {b.resource} ({b.cause}, {counted(b.calls, 'call')})"
            for b in (backtest.broken[:3] if tested and backtest is not None else ())
        ),
    )


def _compared(status: Status, count: int) -> str:
    """Return a count the diff gave, or "n/a" when nothing was compared (logs only)."""
    return f"{count:,}" if status.compared else "n/a"


def _other_accounts(details: AuthorizationDetails, used: Sequence[Used]) -> str | None:
    """Return a warning when the authorization details are of no account the logs' principals
    are in (the diff would find every principal missing), naming both."""
    held = {arn.split(":")[4] for arn in details.principals if arn.count(":") >= 5}
    seen = {u.principal.split(":")[4] for u in used if u.principal.count(":") >= 5}
    seen.discard("")
    if not held or not seen or held & seen:
        return None
    return (
        f"the authorization details are of account {', '.join(sorted(held))}, the logs' "
        f"principals of {', '.join(sorted(seen))}: nothing can be compared; give the details "
        "of the logs' account"
    )


def _review_order(status: Status) -> tuple[Any, ...]:
    """Largest reductions first: permissions removed, services dropped, wildcards scoped."""
    return (-status.removed, -status.services_dropped, -status.scoped, status.principal)


# --- writing -------------------------------------------------------------------------------------


def _read_state(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Return the state file's principals, by ARN, and the whole file."""
    if not path.exists():
        return {}, {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        from trailmin.errors import UsageError

        raise UsageError(
            f"the state file {path} cannot be read; remove it to start afresh (every principal "
            "will be reported new)"
        ) from None
    if not isinstance(data, dict):
        return {}, {}
    principals = data.get("principals", {})
    if not isinstance(principals, dict):
        principals = {}
    found = {k: v for k, v in principals.items() if isinstance(v, dict) and "digest" in v}
    return found, data


def _write(
    config: Config,
    folders: dict[str, dict[str, str]],
    statuses: list[Status],
    summary: Summary,
    checklist: Audit,
    *,
    unusual: Mapping[str, Iterable[str]],
    reviews: Mapping[str, Review],
    last: Mapping[str, Mapping[str, Any]],
    granted: Mapping[str, Mapping[str, Sequence[str]]],
    changes: Changes,
    time: str | None,
    trust: str = "",
) -> None:
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    by_folder = {s.folder: s for s in statuses}
    for folder, files in sorted(folders.items()):
        if by_folder[folder].status == UNCHANGED and (out / folder).is_dir():
            continue
        target = out / folder
        target.mkdir(parents=True, exist_ok=True)
        for stale in sorted(p for p in target.iterdir() if p.is_file() and p.name not in files):
            stale.unlink()
            summary.removed.append(str(stale.relative_to(out)))
        for name, text in sorted(files.items()):
            if _put(target / name, text):
                summary.written.append(f"{folder}/{name}")
    for status in statuses:
        # The folder comes from the state file: only a plain name inside ``out`` is removed.
        gone = out / status.folder
        if status.status == GONE and _own_folder(out, status.folder) and gone.is_dir():
            shutil.rmtree(gone)
            summary.removed.append(status.folder + "/")
    # index.md states the window once, at the top.
    audit_text = dataclasses.replace(checklist, window=None).to_markdown()
    index = (
        index_markdown(
            statuses,
            unusual=unusual,
            reviews=reviews,
            max_breakage=config.max_breakage,
            changes=changes,
            window=summary.window,
        )
        + "\n"
        + (trust + "\n" if trust else "")
        + audit_text.replace("# IAM security checklist", "## IAM security checklist", 1)
    )
    if _put(out / "index.md", index):
        summary.written.append("index.md")
    current = [s for s in statuses if s.status != GONE]
    machine = [{k: v for k, v in s.to_dict().items() if k != "status"} for s in current]
    if _put(out / "proposals.json", json.dumps(machine, indent=2) + "\n"):
        summary.written.append("proposals.json")
    new_state = {
        "version": STATE_VERSION,
        "time": time,
        "changes": changes.to_dict(),
        "principals": {
            s.principal: last[s.principal]
            if s.status == HELD
            else {
                "folder": s.folder,
                "digest": _digest(folders[s.folder]),
                "granted": {a: list(r) for a, r in granted.get(s.principal, {}).items()},
            }
            for s in current
        },
    }
    config.state.parent.mkdir(parents=True, exist_ok=True)
    _put(config.state, json.dumps(new_state, indent=2, sort_keys=True) + "\n")


def _window_markdown(window: Window) -> str:
    """Return the paragraph saying what the proposals were made from and what fell outside."""
    described = window.describe()
    hint = (
        ' (`days = "all"` in `[window]`, or `--days all`, reads every event)'
        if window.events_outside
        else ""
    )
    return f"**Made from** {md.text(described.removeprefix('window: '))}{hint}."


def _backtest_cell(status: Status, max_breakage: float) -> str:
    if status.breakage is None:
        return "n/a"
    mark = " **not yet stable**" if status.breakage > max_breakage else ""
    return f"{status.breakage:.1%} of {status.later_calls:,}{mark}"


def _own_folder(out: Path, folder: str) -> bool:
    """Return whether ``folder`` names one of the job's folders: one name, not a link, in
    ``out``."""
    if not folder.strip(".") or "/" in folder or "\\" in folder:
        return False
    path = out / folder
    return not path.is_symlink() and path.resolve().parent == out.resolve()


def _put(path: Path, text: str) -> bool:
    """Write ``text`` at ``path`` unless it holds it already; return whether it wrote."""
    if path.exists() and path.read_text() == text:
        return False
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)
    return True


def index_markdown(
    statuses: Sequence[Status],
    *,
    unusual: Mapping[str, Iterable[str]] | None = None,
    reviews: Mapping[str, Review] | None = None,
    max_breakage: float = 0.01,
    changes: Changes | None = None,
    window: Window | None = None,
) -> str:
    """Return the reviewer's summary: the window, what changed, what to review first, then
    largest reductions first.

    ``unusual`` maps principals to the checklist's unusual-activity codes found for them: their
    refused calls may not be their own work, and the candidate additions say so. ``reviews``
    maps principals to what their proposals grant that is to be read first
    (``trailmin.policy.review``); the "Review first" section at the top lists those, and the unusual
    principals. A principal whose backtest refused more than ``max_breakage`` of the later calls
    is listed as not yet stable.

    ``changes`` (``compare``) opens it with what changed since the last run, and marks the rows
    of the principals new, changed or held; without it, the summary holds only what the
    proposals say. Names, ARNs, actions and reasons are shown as text or code, never as Markdown
    (``trailmin.text.markdown``).
    """
    current = [s for s in statuses if s.status != GONE]
    marked: dict[str, str] = {}
    if changes is not None and not changes.first:
        marked = {c.principal: c.status for c in changes.principals}
    flagged = unusual or {}
    found = reviews or {}
    first = [
        Review(
            s.principal,
            found[s.principal].items if s.principal in found else (),
            tuple(sorted(set(flagged.get(s.principal, ())))),
        )
        for s in current
    ]
    lines = [
        "# Least-privilege proposals",
        "",
        *([_window_markdown(window), ""] if window is not None else []),
        *([*changes_markdown(changes), ""] if changes else []),
        *review_markdown(first, {s.principal: s.folder for s in current}),
        "",
        "## Proposals",
        "",
        *(
            [
                f"{len(current)} principals. **Logs only:** no authorization details were given "
                "(`logs_only`), so nothing was compared with what each principal holds: what a "
                "proposal would remove, drop or scope is unknown (n/a), not zero, and no diff is "
                "written. Each folder holds the proposed policies and the evidence "
                "(proposal.json): what the principal used.",
            ]
            if current and not any(s.compared for s in current)
            else [
                f"{len(current)} principals, largest reductions first. Each folder holds the "
                "proposed policies, the diff against what the principal holds (diff.md, "
                "diff.json) and the evidence (proposal.json).",
            ]
        ),
        "",
        "The backtest column: a proposal made the same way from the first 2/3 of the window, "
        "replayed on the calls of the last 1/3; the share it would have refused.",
        "",
        "| principal | permissions removed | services dropped | wildcards scoped "
        "| used but not granted | candidate additions | policies | backtest |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {md.link(s.principal, s.folder)}{_marker(marked.get(s.principal))} | "
        f"{_compared(s, s.removed)} | {_compared(s, s.services_dropped)} | "
        f"{_compared(s, s.scoped)} | {_compared(s, s.not_granted)} | {s.candidates:,} | "
        f"{s.policies} | {_backtest_cell(s, max_breakage)} |"
        for s in current
    )
    unstable = [s for s in current if s.breakage is not None and s.breakage > max_breakage]
    if unstable:
        lines += [
            "",
            "## Not yet stable",
            "",
            f"Made from the first 2/3 of the window, these proposals would have refused more "
            f"than {max_breakage:.1%} of the calls of the last 1/3: the principal still does "
            "new things. Read the refusals before applying, or wait for more history.",
            "",
        ]
        for s in unstable:
            lines.append(
                f"- {md.link(s.principal, s.folder)}: {s.breakage:.1%} of {s.later_calls:,} "
                "later calls refused"
                + (": " + "; ".join(md.text(b) for b in s.broken) if s.broken else "")
            )
    skipped = [s for s in current if s.skipped]
    if skipped:
        lines += ["", "## Principals without a proposal", ""]
        lines += [f"- {md.link(s.principal, s.folder)}: {md.text(s.skipped)}" for s in skipped]
    candidates = [s for s in current if s.candidates]
    if candidates:
        lines += [
            "",
            "## Candidate additions",
            "",
            "Calls refused with AccessDenied in the window: not in the proposals unless a person "
            "chooses (`accept_denied`). Each principal's folder lists them (diff.md, "
            "proposal.json).",
            "",
        ]
        for s in candidates:
            line = (
                f"- {md.link(s.principal, s.folder)}: {counted(s.candidates, 'permission')} refused"
            )
            codes = sorted(flagged.get(s.principal, ()))
            if codes:
                line += (
                    f". **The checklist flags unusual activity for this principal "
                    f"({', '.join(codes)}): these refusals may not be its own work; read them "
                    "before granting any.**"
                )
            lines.append(line)
    return "\n".join(lines) + "\n"


def _marker(status: str | None) -> str:
    return f" **{status}**" if status in (NEW, CHANGED, HELD) else ""


def changes_markdown(changes: Changes) -> list[str]:
    """Return the lines of index.md's "Changes since the last run" section; on the first run,
    the one line that says so."""
    if changes.first:
        # No section and no markers: every proposal is new, and the tables say what it is.
        return [
            "This is the first run: there is no state of a last run to compare with, so every "
            f"proposal is new ({counted(len(changes.principals), 'principal')})."
        ]
    since = md.text(changes.since) if changes.since else "time unknown"
    lines = [f"## Changes since the last run ({since})", ""]
    if changes.since:
        lines.append(
            "Against the last run that changed a proposal, which read the calls up to that time."
        )
    else:
        lines.append("The last run's state file, from an older trailmin, does not say its time.")
    lines.append("")
    for c in changes.principals:
        name = md.text(c.principal) if c.status == GONE else md.link(c.principal, c.folder)
        head = f"- {name} **{c.status}**"
        if c.status == NEW:
            lines.append(
                f"{head}: {counted(c.actions, 'action')} in {counted(c.services, 'service')}"
            )
        elif c.status != CHANGED:
            lines.append(f"{head}: {md.text(c.why or 'no reason recorded')}")
        elif not c.known:
            lines.append(
                f"{head}: what changed is unknown, as the last run's state file (from an older "
                "trailmin) does not say what its proposal granted"
            )
        elif not (c.added or c.removed or c.rescoped):
            lines.append(
                f"{head}: the same actions on the same resources; other files of its folder "
                "changed (diff.md: the diff against what it holds)"
            )
        else:
            lines.append(head)
            lines += _listed("added", [md.code(a) for a in c.added])
            lines += _listed("removed", [md.code(a) for a in c.removed])
            lines += _listed(
                "rescoped",
                [
                    f"{md.code(a)}: {_resources(before)} → {_resources(now)}"
                    for a, before, now in c.rescoped
                ],
            )
    if changes.unchanged or not changes.principals:
        if changes.principals:
            lines.append("")  # else the sentence would continue the list's last item
        lines.append(f"{counted(changes.unchanged, 'principal')} unchanged.")
    return lines


def _listed(verb: str, items: Sequence[str]) -> list[str]:
    """Return ``items`` as a nested list, the first ``LISTED_ACTIONS`` of them, then a count."""
    lines = [f"  - {verb} {item}" for item in items[:LISTED_ACTIONS]]
    if len(items) > LISTED_ACTIONS:
        lines.append(f"  - {counted(len(items) - LISTED_ACTIONS, 'other action')} {verb}")
    return lines


def _resources(resources: Sequence[str]) -> str:
    """Return ``resources`` as code spans, the first few of them when they are many."""
    if len(resources) <= LISTED_RESOURCES:
        return ", ".join(md.code(r) for r in resources) or "no resource"
    shown = ", ".join(md.code(r) for r in resources[: LISTED_RESOURCES - 1])
    return f"{shown} and {counted(len(resources) - LISTED_RESOURCES + 1, 'other resource')}"
