"""The scheduled job's configuration: a TOML file, checked whole before any work is done.

    [sources]
    paths = ["s3://org-trail-bucket/AWSLogs/"]   # folders, files or s3:// URIs (required)
    profile = "audit"                            # optional: boto3 profile, endpoint, region
    [lake]
    path = "lake"                                # required
    [window]
    days = 90                                    # the default; "all" reads every event
    [principals]
    include = ["arn:aws:iam::*:role/*"]          # globs; every user and role by default
    exclude = ["arn:aws:iam::*:role/legacy-*"]
    include_service_roles = false                # service-linked and AWS-reserved roles
    [policies]
    auth_file = "auth.json"                      # or: from_aws = true
    scp_file = "scps.json"                       # optional
    credential_report = "credentials.csv"        # optional: for the checklist in index.md
    [output]
    directory = "proposals"                      # required
    formats = ["json", "terraform"]
    state = "proposals/.trailmin-state.json"     # default: in the output directory
    [generate]
    generalize = "churn"                         # churn, exact, prefix or container
    max_resources = 10
    max_policies = 10
    action_wildcards = false
    accept_denied = false                        # refused calls: candidates, or in the policy
    groups = true                                # users' permissions through their groups (IAM.2)
    max_breakage = 0.01                          # backtest figure above which: not yet stable

Relative paths are read from the configuration file's folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailmin.errors import UsageError
from trailmin.policy.generate import GENERALIZE_LEVELS
from trailmin.policy.render import FORMATS
from trailmin.query.sql import ALL_DAYS, Days

# Every key the file may hold, by table, with its type.
SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "sources": {"paths": list, "profile": str, "endpoint_url": str, "client_region": str},
    "lake": {"path": str},
    "window": {"days": (int, str)},
    "principals": {"include": list, "exclude": list, "include_service_roles": bool},
    "policies": {
        "auth_file": str,
        "from_aws": bool,
        "logs_only": bool,
        "scp_file": str,
        "credential_report": str,
        "profile": str,
        "endpoint_url": str,
    },
    "output": {"directory": str, "formats": list, "state": str},
    "generate": {
        "generalize": str,
        "max_resources": int,
        "max_policies": int,
        "action_wildcards": bool,
        "accept_denied": bool,
        "groups": bool,
        "max_breakage": (float, int),
    },
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """A checked configuration of ``trailmin propose`` (and of ``trailmin run``)."""

    sources: tuple[str, ...]
    lake: Path
    out: Path
    state: Path
    days: Days = None  # the window of every command: DEFAULT_DAYS (90) unless set; "all"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_service_roles: bool = False
    auth_file: Path | None = None
    from_aws: bool = False
    # No authorization details (an incident responder has none): propose from the logs alone,
    # and say that nothing was compared with what principals hold.
    logs_only: bool = False
    scp_file: Path | None = None
    credential_report: Path | None = None
    formats: tuple[str, ...] = ("json", "terraform")
    profile: str | None = None
    endpoint_url: str | None = None
    client_region: str | None = None
    iam_profile: str | None = None
    iam_endpoint_url: str | None = None
    generalize: str = "churn"
    max_resources: int = 10
    max_policies: int = 10
    action_wildcards: bool = False
    accept_denied: bool = False
    groups: bool = True  # a proposal per group; users' own policies move into groups (IAM.2)
    max_breakage: float = 0.01

    def __post_init__(self) -> None:
        if isinstance(self.days, str) and self.days != ALL_DAYS:
            raise UsageError(
                f'window.days = {self.days!r}: give a number of days, or "all" for every event'
            )
        if isinstance(self.days, int) and self.days < 1:
            raise UsageError(f"window.days = {self.days}: the window must be at least 1 day")
        if not 0 <= self.max_breakage <= 1:
            raise UsageError(
                f"generate.max_breakage = {self.max_breakage}: give a share from 0 to 1 "
                "(0.01 is 1 %)"
            )
        if self.generalize not in GENERALIZE_LEVELS:
            raise UsageError(
                f"generate.generalize = {self.generalize!r}: use one of "
                f"{', '.join(GENERALIZE_LEVELS)}"
            )
        for fmt in self.formats:
            if fmt not in FORMATS:
                raise UsageError(f"output.formats has {fmt!r}: use any of {', '.join(FORMATS)}")
        given = [self.auth_file is not None, self.from_aws, self.logs_only]
        if sum(given) > 1:
            raise UsageError(
                "policies: give one of auth_file, from_aws = true or logs_only = true, not several"
            )
        if not any(given):
            raise UsageError(
                'policies: say where current policies come from: auth_file = "auth.json" '
                "(aws iam get-account-authorization-details > auth.json) or from_aws = true; or "
                "logs_only = true to propose from the logs alone, compared with nothing"
            )
        if self.auth_file is not None and not self.auth_file.is_file():
            raise UsageError(f"policies.auth_file {self.auth_file} does not exist; check the path")
        if self.credential_report is not None and not self.credential_report.is_file():
            raise UsageError(
                f"policies.credential_report {self.credential_report} does not exist; save one "
                "with `aws iam get-credential-report --query Content --output text | base64 -d`"
            )
        if self.credential_report is not None:
            from trailmin.iam.audit import parse_credential_report

            parse_credential_report(
                self.credential_report.read_text(errors="replace"),
                source=f"policies.credential_report {self.credential_report}",
            )
        if self.scp_file is not None and not self.scp_file.is_file():
            raise UsageError(f"policies.scp_file {self.scp_file} does not exist; check the path")
        if not self.sources:
            raise UsageError("sources.paths is empty: name a folder or an s3://bucket/prefix")
        for source in self.sources:
            if not source.startswith("s3://") and not Path(source).exists():
                raise UsageError(f"sources.paths has {source}, which does not exist; check it")


def load_config(path: str | Path) -> Config:
    """Return the configuration in the TOML file at ``path``, checked."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"{source} does not exist; write one (see `trailmin propose --help` and "
            "examples/trailmin.toml)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source} is not valid TOML: {exc}") from None
    return config_from(data, source.parent)


def config_from(data: Mapping[str, Any], base: Path) -> Config:
    """Return the configuration in parsed TOML ``data``; relative paths are under ``base``."""
    for table, value in data.items():
        if table not in SCHEMA:
            raise UsageError(
                f"unknown table [{table}] in the configuration; the tables are "
                f"{', '.join(f'[{t}]' for t in SCHEMA)}"
            )
        if not isinstance(value, Mapping):
            raise UsageError(f"{table} must be a table: write [{table}] and its keys under it")
        for key, item in value.items():
            expected = SCHEMA[table].get(key)
            if expected is None:
                raise UsageError(
                    f"unknown key {table}.{key}; [{table}] takes {', '.join(SCHEMA[table])}"
                )
            if (table, key) == ("window", "days"):
                if isinstance(item, bool) or not (isinstance(item, int) or item == ALL_DAYS):
                    raise UsageError(
                        f'window.days = {item!r} is not a whole number or "all"; fix its value'
                    )
            elif not isinstance(item, expected) or (expected is int and isinstance(item, bool)):
                raise UsageError(
                    f"{table}.{key} = {item!r} is not a {_name(expected)}; fix its value"
                )
    for table, key in (("sources", "paths"), ("lake", "path"), ("output", "directory")):
        if key not in data.get(table, {}):
            raise UsageError(f"{table}.{key} is required: add it under [{table}]")

    def path_of(value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    sources = data["sources"]
    policies = data.get("policies", {})
    output = data["output"]
    generate = data.get("generate", {})
    principals = data.get("principals", {})
    paths = tuple(
        str(p) if str(p).startswith("s3://") else str(path_of(str(p))) for p in sources["paths"]
    )
    out = path_of(output["directory"])
    return Config(
        sources=paths,
        lake=path_of(data["lake"]["path"]),
        out=out,
        state=path_of(output["state"]) if "state" in output else out / ".trailmin-state.json",
        days=data.get("window", {}).get("days"),
        include=tuple(str(p) for p in principals.get("include", ())),
        exclude=tuple(str(p) for p in principals.get("exclude", ())),
        include_service_roles=principals.get("include_service_roles", False),
        auth_file=path_of(policies["auth_file"]) if "auth_file" in policies else None,
        from_aws=policies.get("from_aws", False),
        logs_only=policies.get("logs_only", False),
        scp_file=path_of(policies["scp_file"]) if "scp_file" in policies else None,
        credential_report=path_of(policies["credential_report"])
        if "credential_report" in policies
        else None,
        formats=tuple(str(f) for f in output.get("formats", ("json", "terraform"))),
        profile=sources.get("profile"),
        endpoint_url=sources.get("endpoint_url"),
        client_region=sources.get("client_region"),
        iam_profile=policies.get("profile"),
        iam_endpoint_url=policies.get("endpoint_url"),
        generalize=generate.get("generalize", "churn"),
        max_resources=generate.get("max_resources", 10),
        max_policies=generate.get("max_policies", 10),
        action_wildcards=generate.get("action_wildcards", False),
        accept_denied=generate.get("accept_denied", False),
        groups=generate.get("groups", True),
        max_breakage=float(generate.get("max_breakage", 0.01)),
    )


def _name(kind: type | tuple[type, ...]) -> str:
    names = {list: "list", str: "string", int: "whole number", bool: "true or false"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)
