"""trailmin: least-privilege IAM policies from what CloudTrail saw principals do.

The library surface, for scripts and notebooks::

    import trailmin
    trailmin.ingest(["s3://bucket/AWSLogs/"], lake="lake/")
    events = trailmin.read_events("lake/", start="2026-10-01")
    lake = trailmin.Lake("lake/")  # the same questions as methods, for notebooks
    lake.usage(days=90, principals=["arn:aws:iam::*:role/app-*"])

Every name here is listed in ``__all__``, and every value a public function returns is of a type
exported here. Names are imported on first use, so that ``import trailmin`` (and each ingest
worker process) does not pay for pandas and DuckDB until they are needed.
"""

# No other name is bound here: the namespace is __all__ and the subpackages (tests check it).
import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from trailmin.api import (
        LakeInfo,
        TrustCheck,
        audit,
        authorization_details,
        backtest,
        compact,
        credential_report,
        diff,
        generate,
        group_proposals,
        ingest,
        lake_info,
        mapping_report,
        password_policy,
        principals,
        propose,
        read_events,
        read_password_policy,
        read_scps,
        remap,
        run,
        services,
        trust,
        usage,
        usage_sql,
        verify,
        verify_trust,
        window,
        write_proposals,
    )
    from trailmin.errors import (
        CredentialsError,
        LakeError,
        NothingMatched,
        SourceError,
        TrailminError,
        UsageError,
    )
    from trailmin.explore import (
        Lake,
    )
    from trailmin.iam.audit import (
        Audit,
        Finding,
    )
    from trailmin.iam.details import (
        AuthorizationDetails,
    )
    from trailmin.iam.diff import (
        DiffReport,
    )
    from trailmin.iam.trust import (
        TrustReport,
    )
    from trailmin.ingestion.pipeline import (
        IngestSummary,
        Progress,
    )
    from trailmin.job.propose import Summary as JobSummary
    from trailmin.lake.duck import (
        connect,
    )
    from trailmin.lake.maintenance import (
        CompactSummary,
        RemapSummary,
    )
    from trailmin.lake.schema import (
        EVENT_SCHEMA,
    )
    from trailmin.mapping.report import (
        MappingReport,
    )
    from trailmin.policy.backtest import (
        Backtest,
    )
    from trailmin.policy.generate import Options as GenerateOptions
    from trailmin.policy.generate import (
        Policy,
        Proposal,
        Statement,
    )
    from trailmin.policy.groups import (
        GroupProposals,
    )
    from trailmin.policy.replay import (
        Verdict,
    )
    from trailmin.query.sql import (
        DEFAULT_DAYS,
        Filters,
        Window,
        parse_time,
    )

__version__ = "0.1.0"

# Where each public name is defined: (module, name there).
_EXPORTS: dict[str, tuple[str, str]] = {
    "Audit": ("trailmin.iam.audit", "Audit"),
    "AuthorizationDetails": ("trailmin.iam.details", "AuthorizationDetails"),
    "Backtest": ("trailmin.policy.backtest", "Backtest"),
    "CompactSummary": ("trailmin.lake.maintenance", "CompactSummary"),
    "CredentialsError": ("trailmin.errors", "CredentialsError"),
    "DEFAULT_DAYS": ("trailmin.query.sql", "DEFAULT_DAYS"),
    "DiffReport": ("trailmin.iam.diff", "DiffReport"),
    "EVENT_SCHEMA": ("trailmin.lake.schema", "EVENT_SCHEMA"),
    "Filters": ("trailmin.query.sql", "Filters"),
    "Finding": ("trailmin.iam.audit", "Finding"),
    "GenerateOptions": ("trailmin.policy.generate", "Options"),
    "IngestSummary": ("trailmin.ingestion.pipeline", "IngestSummary"),
    "Lake": ("trailmin.explore", "Lake"),
    "LakeError": ("trailmin.errors", "LakeError"),
    "LakeInfo": ("trailmin.api", "LakeInfo"),
    "MappingReport": ("trailmin.mapping.report", "MappingReport"),
    "NothingMatched": ("trailmin.errors", "NothingMatched"),
    "Policy": ("trailmin.policy.generate", "Policy"),
    "Progress": ("trailmin.ingestion.pipeline", "Progress"),
    "Proposal": ("trailmin.policy.generate", "Proposal"),
    "RemapSummary": ("trailmin.lake.maintenance", "RemapSummary"),
    "SourceError": ("trailmin.errors", "SourceError"),
    "Statement": ("trailmin.policy.generate", "Statement"),
    "TrailminError": ("trailmin.errors", "TrailminError"),
    "UsageError": ("trailmin.errors", "UsageError"),
    "Verdict": ("trailmin.policy.replay", "Verdict"),
    "Window": ("trailmin.query.sql", "Window"),
    "audit": ("trailmin.api", "audit"),
    "authorization_details": ("trailmin.api", "authorization_details"),
    "backtest": ("trailmin.api", "backtest"),
    "compact": ("trailmin.api", "compact"),
    "connect": ("trailmin.lake.duck", "connect"),
    "diff": ("trailmin.api", "diff"),
    "generate": ("trailmin.api", "generate"),
    "group_proposals": ("trailmin.api", "group_proposals"),
    "GroupProposals": ("trailmin.policy.groups", "GroupProposals"),
    "ingest": ("trailmin.api", "ingest"),
    "lake_info": ("trailmin.api", "lake_info"),
    "mapping_report": ("trailmin.api", "mapping_report"),
    "parse_time": ("trailmin.query.sql", "parse_time"),
    "principals": ("trailmin.api", "principals"),
    "read_events": ("trailmin.api", "read_events"),
    "read_password_policy": ("trailmin.api", "read_password_policy"),
    "password_policy": ("trailmin.api", "password_policy"),
    "read_scps": ("trailmin.api", "read_scps"),
    "remap": ("trailmin.api", "remap"),
    "services": ("trailmin.api", "services"),
    "usage": ("trailmin.api", "usage"),
    "verify": ("trailmin.api", "verify"),
    "window": ("trailmin.api", "window"),
    "write_proposals": ("trailmin.api", "write_proposals"),
    "credential_report": ("trailmin.api", "credential_report"),
    "propose": ("trailmin.api", "propose"),
    "run": ("trailmin.api", "run"),
    "usage_sql": ("trailmin.api", "usage_sql"),
    "trust": ("trailmin.api", "trust"),
    "verify_trust": ("trailmin.api", "verify_trust"),
    "TrustReport": ("trailmin.iam.trust", "TrustReport"),
    "TrustCheck": ("trailmin.api", "TrustCheck"),
    "JobSummary": ("trailmin.job.propose", "Summary"),
}

__all__ = [
    "DEFAULT_DAYS",
    "EVENT_SCHEMA",
    "Audit",
    "AuthorizationDetails",
    "Backtest",
    "CompactSummary",
    "CredentialsError",
    "DiffReport",
    "Filters",
    "Finding",
    "GenerateOptions",
    "GroupProposals",
    "IngestSummary",
    "JobSummary",
    "Lake",
    "LakeError",
    "LakeInfo",
    "MappingReport",
    "NothingMatched",
    "Policy",
    "Progress",
    "Proposal",
    "RemapSummary",
    "SourceError",
    "Statement",
    "TrailminError",
    "TrustCheck",
    "TrustReport",
    "UsageError",
    "Verdict",
    "Window",
    "__version__",
    "audit",
    "authorization_details",
    "backtest",
    "compact",
    "connect",
    "credential_report",
    "diff",
    "generate",
    "group_proposals",
    "ingest",
    "lake_info",
    "mapping_report",
    "parse_time",
    "password_policy",
    "principals",
    "propose",
    "read_events",
    "read_password_policy",
    "read_scps",
    "remap",
    "run",
    "services",
    "trust",
    "usage",
    "usage_sql",
    "verify",
    "verify_trust",
    "window",
    "write_proposals",
]


def __getattr__(name: str) -> _typing.Any:
    found = _EXPORTS.get(name)
    if found is None:
        raise AttributeError(f"module 'trailmin' has no attribute {name!r}")
    module, attribute = found
    value = getattr(_importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
