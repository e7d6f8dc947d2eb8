"""The lake's columns: the Arrow schemas of its rows, of its files and of a batch being written.

Pure values, no I/O. Ingest fills these columns (``trailmin.ingestion.columns``), the store writes
and reads them (``store``), and every stage after the lake reads them by these names.
"""

from __future__ import annotations

import pyarrow as pa

# A lake written with another version is refused, not read wrongly (``store``).
SCHEMA_VERSION = 2

# ``arn_prefix``: CloudTrail names the objects a ListObjects call reached by prefix (ARNPrefix).
RESOURCE_TYPE = pa.struct(
    [
        ("arn", pa.string()),
        ("arn_prefix", pa.string()),
        ("type", pa.string()),
        ("account_id", pa.string()),
    ]
)
# What a call needed: an IAM action, the resource ARN or pattern it applied to ("*" when none),
# how that was derived, and whether CloudTrail did not log it as a call of its own
# (iam:PassRole). ``trailmin.mapping.permissions.permissions_column`` fills it at ingest with
# the fields of its ``Permission``, which are these (the lake may not import the mapping).
PERMISSION_TYPE = pa.struct(
    [
        ("action", pa.string()),
        ("resource", pa.string()),
        ("derivation", pa.string()),
        ("inferred", pa.bool_()),
    ]
)

# The columns of the events lake (DESIGN section 2). The Hive partition keys ``account`` and
# ``date`` live in the directory names, not in the files.
EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("event_version", pa.string()),
        ("event_source", pa.string()),
        ("event_name", pa.string()),
        ("event_type", pa.string()),
        ("event_category", pa.string()),
        ("aws_region", pa.string()),
        ("recipient_account_id", pa.string()),
        ("principal_arn", pa.string()),
        ("principal_type", pa.string()),
        ("principal_account_id", pa.string()),
        ("identity_type", pa.string()),
        ("identity_arn", pa.string()),
        ("principal_id", pa.string()),
        ("session_name", pa.string()),
        ("user_name", pa.string()),
        ("access_key_id", pa.string()),
        ("mfa_authenticated", pa.bool_()),
        ("invoked_by", pa.string()),
        ("user_agent", pa.string()),
        ("source_ip", pa.string()),
        ("vpc_endpoint_id", pa.string()),
        ("tls_version", pa.string()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
        ("read_only", pa.bool_()),
        ("management_event", pa.bool_()),
        ("request_parameters", pa.string()),
        ("additional_event_data", pa.string()),
        ("resources", pa.list_(RESOURCE_TYPE)),
        ("permissions", pa.list_(PERMISSION_TYPE)),
        ("source", pa.string()),
    ]
)
PERMISSION_LIST = EVENT_SCHEMA.field("permissions").type

# Columns whose values repeat from record to record: held and written dictionary-encoded.
DICTIONARY_COLUMNS = frozenset(
    {
        "event_version",
        "event_source",
        "event_name",
        "event_type",
        "event_category",
        "aws_region",
        "recipient_account_id",
        "principal_arn",
        "principal_type",
        "principal_account_id",
        "identity_type",
        "identity_arn",
        "principal_id",
        "session_name",
        "user_name",
        "access_key_id",
        "invoked_by",
        "user_agent",
        "source_ip",
        "vpc_endpoint_id",
        "error_code",
        "error_message",
        "source",
    }
)
# The Arrow schema of the lake's files: EVENT_SCHEMA with the repetitive columns as dictionaries.
# Parquet stores them as plain (dictionary-encoded) strings and booleans; DuckDB and Athena read
# them as such, pyarrow reads them back as dictionaries (pandas categoricals).
FILE_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in DICTIONARY_COLUMNS else f
        for f in EVENT_SCHEMA
    ]
)
# A batch on its way into the lake: EVENT_SCHEMA's columns, then the partition keys.
TABLE_SCHEMA = EVENT_SCHEMA.append(pa.field("account", pa.string())).append(
    pa.field("date", pa.date32())
)
