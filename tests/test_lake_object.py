"""``trailmin.Lake`` asks its questions on one DuckDB connection, opened again only when the
lake's snapshot moved (an ingest, a compaction) or after ``close()``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import trailmin
from tests.conftest import log_name, make_record, write_delivery
from trailmin import api
from trailmin.lake import duck
from trailmin.lake.store import Store


def delivery(folder: Path, first: int, count: int) -> Path:
    """Write ``count`` records numbered from ``first`` as one delivery under ``folder``."""
    records = [make_record(n) for n in range(first, first + count)]
    write_delivery(
        folder / log_name("111122223333", "us-east-1", f"20261005T{first:04d}Z", "a"), records
    )
    return folder


@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    """A lake of two ingests into one partition: two files that a compaction merges."""
    lake = tmp_path / "lake"
    trailmin.ingest([delivery(tmp_path / "first", 0, 30)], lake=lake, workers=1)
    trailmin.ingest([delivery(tmp_path / "second", 30, 20)], lake=lake, workers=1)
    assert len(Store.open(lake).small_partitions(min_files=2)) == 1
    return lake


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The lakes ``trailmin.lake.duck.connect`` opened a connection over, one entry a call."""
    calls: list[Path] = []
    connect = duck.connect

    def counted(lake: str | Path) -> duckdb.DuckDBPyConnection:
        calls.append(Path(lake))
        return connect(lake)

    monkeypatch.setattr(duck, "connect", counted)
    return calls


def event_ids(lake: trailmin.Lake) -> list[str]:
    return sorted(lake.events(columns=["event_id"])["event_id"])


def test_every_question_of_a_lake_runs_on_one_connection(
    two_runs: Path, opened: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The methods, and the api functions given the Lake, open DuckDB once between them."""
    expected = trailmin.usage(two_runs)

    def refused(lake: Any) -> Any:
        raise AssertionError(f"opened {lake} from its path")

    monkeypatch.setattr(api, "connect", refused)
    with trailmin.Lake(two_runs) as lake:
        pd.testing.assert_frame_equal(lake.usage(), expected)
        assert lake.principals()["principal"].tolist() == ["arn:aws:iam::111122223333:user/alice"]
        assert lake.services()["service"].tolist() == ["s3"]
        assert lake.window().events == 50
        assert len(event_ids(lake)) == 50
        assert lake.info().rows == 50
        assert lake.sql("SELECT count(*) AS n FROM events")["n"].tolist() == [50]
        assert not lake.mapping_report().to_frame().empty
        (proposal,) = trailmin.generate(lake)
        assert proposal.principal == "arn:aws:iam::111122223333:user/alice"
        assert trailmin.audit(lake).window == lake.window()
        assert trailmin.backtest(lake).results[0].principal == proposal.principal
    assert opened == [two_runs]


def test_close_closes_the_connection_and_a_later_question_opens_another(
    two_runs: Path, opened: list[Path]
) -> None:
    lake = trailmin.Lake(two_runs)
    first = lake.connection()
    assert lake.connection() is first
    lake.close()
    with pytest.raises(duckdb.ConnectionException):
        first.sql("SELECT 1")
    assert len(event_ids(lake)) == 50
    assert lake.connection() is not first
    lake.close()
    lake.close()  # closing twice is closing once
    assert opened == [two_runs, two_runs]


def test_a_lake_in_a_with_block_closes_its_connection_on_leaving() -> None:
    lake = trailmin.Lake("nowhere")
    with lake as entered:
        assert entered is lake  # creating and entering read nothing
    assert repr(lake) == "trailmin.Lake('nowhere')"


def test_leaving_a_with_block_closes_the_connection_it_opened(two_runs: Path) -> None:
    with trailmin.Lake(two_runs) as lake:
        db = lake.connection()
        assert db.sql("SELECT count(*) FROM events").fetchall() == [(50,)]
    with pytest.raises(duckdb.ConnectionException):
        db.sql("SELECT 1")


def test_a_question_after_the_lakes_own_ingest_sees_the_new_events(
    tmp_path: Path, opened: list[Path]
) -> None:
    with trailmin.Lake(tmp_path / "lake") as lake:
        lake.ingest([delivery(tmp_path / "first", 0, 30)], workers=1)
        assert len(event_ids(lake)) == 30
        lake.ingest([delivery(tmp_path / "second", 30, 20)], workers=1)
        assert event_ids(lake) == sorted(f"evt-{n}" for n in range(50))
        assert lake.usage()["calls"].tolist() == [50]
    assert opened == [tmp_path / "lake"] * 2


def test_a_question_after_another_writer_committed_opens_the_new_snapshot(
    tmp_path: Path, opened: list[Path]
) -> None:
    """An ingest by anyone else moves the snapshot: the next question reads over a new one;
    a lake nobody wrote to is read on the same connection."""
    path = tmp_path / "lake"
    trailmin.ingest([delivery(tmp_path / "first", 0, 30)], lake=path, workers=1)
    with trailmin.Lake(path) as lake:
        assert len(event_ids(lake)) == 30
        assert lake.principals()["calls"].tolist() == [30]
        assert opened == [path]
        trailmin.ingest([delivery(tmp_path / "second", 30, 20)], lake=path, workers=1)
        assert lake.principals()["calls"].tolist() == [50]
    assert opened == [path, path]


def test_a_question_whose_files_a_compaction_retired_meanwhile_reads_the_merged_files(
    two_runs: Path, opened: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compaction commits between the check of the snapshot and the query: the query, on
    the old connection, finds its files gone, and runs again over the merged file."""
    with trailmin.Lake(two_runs) as lake:
        before = event_ids(lake)
        stale = duck.snapshot(two_runs)
        assert trailmin.compact(two_runs).files_after == 1
        snapshot, checks = duck.snapshot, []

        def stale_once(path: str | Path) -> tuple[Path, ...]:
            checks.append(path)
            return stale if len(checks) == 1 else snapshot(path)

        monkeypatch.setattr(duck, "snapshot", stale_once)
        assert event_ids(lake) == before
    assert len(checks) == 2
    assert opened == [two_runs, two_runs]


def test_a_committed_file_deleted_by_hand_is_an_error_naming_it(two_runs: Path) -> None:
    """Reading again on the Lake's connection does not hide a file gone for good."""
    with trailmin.Lake(two_runs) as lake:
        assert len(event_ids(lake)) == 50
        gone = Store.open(two_runs).committed_files()[0]
        gone.unlink()
        with pytest.raises(trailmin.LakeError) as raised:
            lake.principals()
    assert str(raised.value) == (
        f"{gone} is committed in the lake's manifest but is not on disk; restore the lake from "
        "a backup, or ingest its sources into a new lake"
    )
