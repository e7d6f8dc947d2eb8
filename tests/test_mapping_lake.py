"""The permissions column: filled at ingest, refilled by remap, versioned in the manifest."""

from __future__ import annotations

import contextlib
import sqlite3

import pyarrow.parquet as pq

import trailmin
from tests.conftest import SAMPLE_LOGS
from trailmin.aws import catalog
from trailmin.lake.store import Store
from trailmin.mapping.permissions import mapping_version


def permissions_by_event(lake) -> dict[str, list]:
    found = {}
    for path in Store.open(lake).committed_files():
        table = pq.read_table(path, columns=["event_id", "permissions"])
        found.update(
            zip(table["event_id"].to_pylist(), table["permissions"].to_pylist(), strict=True)
        )
    return found


def test_ingest_fills_permissions_from_the_mapping(tmp_path, real_logs):
    lake = tmp_path / "lake"
    trailmin.ingest([real_logs / "invictus-ir", SAMPLE_LOGS], lake=lake, workers=1)
    db = trailmin.connect(lake)
    rows = db.sql(
        "SELECT p.action, p.resource, p.derivation, p.inferred FROM "
        "(SELECT unnest(permissions) AS p FROM events)"
    ).fetchall()
    assert len(rows) > 3000
    assert all(catalog.action(action) is not None for action, *_ in rows)
    # The sample's CI role created a function passing the app role: PassRole is inferred.
    passed = {(a, r) for a, r, _, inferred in rows if inferred}
    assert ("iam:PassRole", "arn:aws:iam::111122223333:role/service/app-backend") in passed
    # Data events are scoped to what CloudTrail logged.
    objects = [r for a, r, d, _ in rows if a == "s3:GetObject"]
    assert objects
    assert all(r.startswith("arn:aws:s3:::") for r in objects)
    # Events that need no permission have none.
    none = db.sql(
        "SELECT count(*) FROM events WHERE event_name = 'GetCallerIdentity' "
        "AND len(permissions) > 0"
    ).fetchall()
    assert none == [(0,)]
    scoped = sum(1 for _, r, d, _ in rows if not d.endswith("no resource type") and r != "*")
    unscoped = sum(1 for _, _, d, _ in rows if "unscoped" in d)
    assert scoped > unscoped
    assert trailmin.lake_info(lake).mapping_current


def test_remap_refills_only_files_of_another_mapping(tmp_path):
    lake = tmp_path / "lake"
    trailmin.ingest([SAMPLE_LOGS], lake=lake, workers=1)
    before = permissions_by_event(lake)
    assert trailmin.remap(lake).files == 0  # nothing to do: all current

    # Pretend the files were filled by an older mapping, with nothing in the column.
    the_lake = Store.open(lake)
    with contextlib.closing(sqlite3.connect(the_lake.manifest_path)) as db:
        db.execute("UPDATE files SET mapping_version = 'older'")
        db.commit()
    info = trailmin.lake_info(lake)
    assert not info.mapping_current
    assert info.mapping_versions == {"older": info.files}

    summary = trailmin.remap(lake)
    assert summary.files == info.files
    assert summary.rows == 1422
    assert summary.mapping_version == mapping_version()
    assert permissions_by_event(lake) == before
    assert trailmin.lake_info(lake).mapping_current
    assert len(list((lake / "events").rglob("*.parquet"))) == info.files


def test_ingest_without_mapping_then_remap_gives_the_mapped_lake(tmp_path):
    mapped = tmp_path / "mapped"
    trailmin.ingest([SAMPLE_LOGS], lake=mapped, workers=1)
    later = tmp_path / "later"
    trailmin.ingest([SAMPLE_LOGS], lake=later, workers=1, map_permissions=False)
    assert set(permissions_by_event(later).values()) == {None}
    assert trailmin.lake_info(later).mapping_versions == {"unmapped": 14}
    assert trailmin.remap(later).rows == 1422
    assert permissions_by_event(later) == permissions_by_event(mapped)
