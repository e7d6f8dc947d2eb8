"""Processes and readers (issue 14, point 6, and the lake items of point 8).

Real processes over real files: an ingest whose parent is SIGKILLed, compactions killed at their
exact dangerous points, readers racing a compaction, a lake folder this user cannot write. A kill
point is picked by patching a trailmin function from the outside, in the killed subprocess only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import trailmin
from trailmin.lake.store import Store

ACCOUNTS = ("111122223333", "444455556666")
RUN_TIMEOUT = 120

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds worker processes through /proc"
)


# --- the corpora and lakes ------------------------------------------------------------------------


def synth(out: Path, *, events_per_day: int, events_per_file: int) -> Path:
    """Return a ``trailmin synth`` trail: two accounts, two days, one region; in each account
    also the vendor's audit on the first day (6 events) and the leaked key's check (1)."""
    accounts = [arg for account in ACCOUNTS for arg in ("--account", account)]
    sizes = ["--events-per-day", str(events_per_day), "--events-per-file", str(events_per_file)]
    trail = ["--days", "2", *sizes, *accounts, "--region", "us-east-1"]
    subprocess.run(
        [sys.executable, "-m", "trailmin", "synth", str(out), *trail],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def busy_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trail that keeps two workers busy for a few seconds (40,014 events, about 9 MB)."""
    return synth(tmp_path_factory.mktemp("busy"), events_per_day=10_000, events_per_file=250)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trail of 4,014 events in four partitions."""
    return synth(tmp_path_factory.mktemp("small"), events_per_day=1_000, events_per_file=50)


def glob_ids(lake: Path) -> Counter[str]:
    """Return the event ids DuckDB reads from ``events/`` as the README shows, with repeats."""
    if not any((lake / "events").rglob("*.parquet")):
        return Counter()
    rows = duckdb.connect().execute(
        "SELECT event_id FROM read_parquet(?, hive_partitioning = true)",
        [f"{lake}/events/**/*.parquet"],
    )
    return Counter(row[0] for row in rows.fetchall())


def trailmin_ids(lake: Path) -> Counter[str]:
    """Return the event ids trailmin reads (the manifest's committed files, wherever each is)."""
    return Counter(trailmin.read_events(lake, columns=["event_id"])["event_id"])


def files_on_disk(lake: Path) -> list[str]:
    return sorted(p.relative_to(lake).as_posix() for p in (lake / "events").rglob("*.parquet"))


def staged_files(lake: Path) -> list[str]:
    return sorted(p.name for p in (lake / "_trailmin" / "staging").rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def busy_ids(busy_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Counter[str]:
    """Return the event ids of a clean one-worker ingest of the busy corpus."""
    lake = tmp_path_factory.mktemp("busy-clean") / "lake"
    assert trailmin.ingest([busy_corpus], lake=lake, workers=1).clean
    ids = glob_ids(lake)
    assert sum(ids.values()) == len(ids) == 40_014
    return ids


@pytest.fixture(scope="module")
def fragmented(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a lake of many small files per partition, as incremental runs leave it."""
    lake = tmp_path_factory.mktemp("fragmented") / "lake"
    assert trailmin.ingest([small_corpus], lake=lake, workers=1, task_bytes=16_384).clean
    partitions = Store.open(lake).small_partitions(min_files=2)
    assert len(partitions) == 4
    assert all(len(paths) >= 5 for *_, paths in partitions)
    return lake


@pytest.fixture(scope="module")
def small_ids(fragmented: Path) -> Counter[str]:
    ids = glob_ids(fragmented)
    assert sum(ids.values()) == len(ids) == 4_014
    return ids


# --- processes ------------------------------------------------------------------------------------


def process_state(pid: int) -> str | None:
    """Return the state letter of process ``pid`` (``Z``: a zombie), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    return process_state(pid) not in {None, "Z"}


def worker_pids(parent: int) -> list[int]:
    """Return the multiprocessing workers ``parent`` spawned (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def wait_until(condition: object, *, seconds: float) -> bool:
    """Return whether ``condition()`` became true within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@contextlib.contextmanager
def reaped(pids: list[int]) -> Iterator[None]:
    """Kill whichever of ``pids`` is still alive when the block ends (a failed test leaks none)."""
    try:
        yield
    finally:
        for pid in pids:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


TWO_WORKER_INGEST = textwrap.dedent(
    """
    import sys
    import trailmin
    from trailmin.ingestion import pipeline as ingestion

    ingestion.SMALL_RUN_BYTES = 0  # worker processes even for this corpus
    trailmin.ingest([sys.argv[1]], lake=sys.argv[2], workers=2, task_bytes=256 * 1024)
    """
)


def test_the_workers_of_a_killed_ingest_die_with_it_and_a_rerun_completes_the_lake(
    busy_corpus: Path, busy_ids: Counter[str], tmp_path: Path
) -> None:
    """SIGKILL the parent of a two-worker ingest while its workers write: they are gone within
    seconds, nothing uncommitted is under events/, and a re-run gives the clean run's events."""
    lake = tmp_path / "lake"
    log = (tmp_path / "stderr").open("w")
    # Its output goes to a file: an orphaned worker must not hold a pipe of ours open.
    parent = subprocess.Popen(
        [sys.executable, "-c", TWO_WORKER_INGEST, str(busy_corpus), str(lake)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    workers: list[int] = []
    with reaped(workers):
        try:

            def busy() -> bool:
                workers[:] = worker_pids(parent.pid)
                return len(workers) == 2 and bool(staged_files(lake))

            assert wait_until(busy, seconds=60), "two workers never wrote a staged file"
            parent.send_signal(signal.SIGKILL)
            parent.wait(timeout=RUN_TIMEOUT)
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait()
            log.close()
        assert parent.returncode == -signal.SIGKILL

        assert wait_until(lambda: not any(alive(w) for w in workers), seconds=5), (
            f"workers still alive 5 s after their parent died: {[w for w in workers if alive(w)]}"
        )
        # Nothing the dead run left is visible: under events/ only what its commits list.
        assert set(files_on_disk(lake)) <= set(Store.open(lake).committed_paths())
        assert glob_ids(lake) <= busy_ids
        assert max(glob_ids(lake).values(), default=1) == 1

    summary = trailmin.ingest([busy_corpus], lake=lake, workers=1)

    assert summary.clean
    assert glob_ids(lake) == busy_ids
    assert trailmin_ids(lake) == busy_ids
    assert files_on_disk(lake) == Store.open(lake).committed_paths()
    assert staged_files(lake) == []


ORPHAN_MAKER = textwrap.dedent(
    """
    import subprocess, sys, time

    # The worker of this test: what _init_worker does, on a system without prctl.
    subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
    time.sleep(RUN_TIMEOUT)
    """
).replace("RUN_TIMEOUT", str(RUN_TIMEOUT))

NO_PRCTL_WORKER = textwrap.dedent(
    """
    import ctypes, os, sys, time
    from trailmin.ingestion import pipeline as ingestion

    def no_libc(*args, **kwargs):
        raise OSError("no prctl on this system")

    ctypes.CDLL = no_libc  # only the watching thread is left to notice the parent's death
    ingestion._die_with(os.getppid())
    with open(sys.argv[1], "w") as ready:
        ready.write(str(os.getpid()))
    time.sleep(RUN_TIMEOUT)
    """
).replace("RUN_TIMEOUT", str(RUN_TIMEOUT))


def test_a_worker_without_prctl_still_exits_when_its_parent_dies(tmp_path: Path) -> None:
    """The portable fallback: a thread that sees the parent change ends the worker."""
    ready = tmp_path / "ready"
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_MAKER, NO_PRCTL_WORKER, str(ready)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    with reaped(workers):
        try:
            assert wait_until(lambda: ready.exists() and ready.read_text(), seconds=60)
            workers.append(int(ready.read_text()))
            assert alive(workers[0])
            parent.kill()
            parent.wait(timeout=RUN_TIMEOUT)
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait()

        assert wait_until(lambda: not alive(workers[0]), seconds=5)


# --- readers while compaction runs ----------------------------------------------------------------


HELD_READER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from trailmin import api

    held, release = Path(sys.argv[1]), Path(sys.argv[2])
    connect, snapshots = api.connect, []

    def connect_then_wait(lake):
        db = connect(lake)
        snapshots.append(lake)
        if len(snapshots) == 1:  # the first snapshot is taken; hold until the files change
            held.touch()
            deadline = time.monotonic() + 60
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        return db

    api.connect = connect_then_wait
    from trailmin.cli import main

    sys.argv = ["trailmin", *sys.argv[3:]]
    try:
        main()
    finally:
        print(f"snapshots: {len(snapshots)}", file=sys.stderr)
    """
)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trailmin", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("command", ["usage", "principals"])
def test_a_read_whose_files_a_compaction_replaced_reads_the_merged_files(
    fragmented: Path, tmp_path: Path, command: str
) -> None:
    """A reader holds its snapshot while `lake compact` replaces every file of it: it neither
    fails ("Cannot open file") nor counts twice; it reads again over the merged files."""
    lake = tmp_path / "lake"
    shutil.copytree(fragmented, lake)
    before = cli(command, "--lake", str(lake), "--format", "json")
    assert before.returncode == 0, before.stderr
    held, release = tmp_path / "held", tmp_path / "release"
    read = [command, "--lake", str(lake), "--format", "json"]
    reader = subprocess.Popen(
        [sys.executable, "-c", HELD_READER, str(held), str(release), *read],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(held.exists, seconds=60), reader.communicate()
        compact = cli("lake", "compact", "--lake", str(lake))
        assert compact.returncode == 0, compact.stderr
        assert Store.open(lake).small_partitions(min_files=2) == []
    finally:
        release.touch()
        out, err = reader.communicate(timeout=RUN_TIMEOUT)

    assert reader.returncode == 0, err
    assert json.loads(out) == json.loads(before.stdout)
    assert "snapshots: 2" in err  # the first snapshot's files were gone: it read again


def test_usage_and_principals_while_compact_runs_neither_fail_nor_double_count(
    fragmented: Path, tmp_path: Path
) -> None:
    """The issue's trial: reads in a loop for as long as a `lake compact` runs."""
    lake = tmp_path / "lake"
    shutil.copytree(fragmented, lake)
    expected = {
        "usage": trailmin.usage(lake).to_dict("records"),
        "principals": trailmin.principals(lake).to_dict("records"),
    }
    compact = subprocess.Popen(
        [sys.executable, "-m", "trailmin", "lake", "compact", "--lake", str(lake)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    reads = Counter[str]()
    try:
        while compact.poll() is None or not reads:
            for name, read in (("usage", trailmin.usage), ("principals", trailmin.principals)):
                assert read(lake).to_dict("records") == expected[name]
                reads[name] += 1
    finally:
        _, err = compact.communicate(timeout=RUN_TIMEOUT)
    assert compact.returncode == 0, err
    assert Store.open(lake).small_partitions(min_files=2) == []
    assert reads["usage"] >= 1


def test_a_committed_file_deleted_by_hand_is_an_error_naming_it(
    fragmented: Path, tmp_path: Path
) -> None:
    """Reading again does not hide a file that is gone for good: the error names it."""
    lake = tmp_path / "lake"
    shutil.copytree(fragmented, lake)
    gone = Store.open(lake).committed_files()[3]
    gone.unlink()

    result = cli("principals", "--lake", str(lake))

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {gone} is committed in the lake's manifest but is not on disk; restore the "
        "lake from a backup, or ingest its sources into a new lake"
    )


# --- what events/ shows after a killed compaction or ingest ---------------------------------------


KILLER = textwrap.dedent(
    """
    import functools, os, signal, sys
    import trailmin
    from trailmin.lake import store as lake_module

    name, when, nth = sys.argv[2], sys.argv[3], int(sys.argv[4])
    if name == "replace":  # os.replace, counted only when it moves a file into events/
        owner = os
    else:
        owner = lake_module.Store if hasattr(lake_module.Store, name) else lake_module
    original, calls = getattr(owner, name), [0]

    @functools.wraps(original)
    def planted(*args, **kwargs):
        counted = name != "replace" or "/events/" in str(args[1])
        calls[0] += counted
        if counted and when == "before" and calls[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if counted and when == "after" and calls[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, planted)
    if sys.argv[5:] == ["no-swap"]:  # as on a file system that cannot swap two folders
        lake_module._exchange = lambda first, second: False
    trailmin.compact(sys.argv[1])
    """
)

# The exact points of a compaction: (function, before or after its call, which call).
COMPACT_POINTS = [
    ("replace_files", "before", 2),  # a merged file staged, its commit not made
    ("_publish", "before", 1),  # committed: the manifest lists the merged file, events/ the old
    ("_exchange", "before", 1),  # the partition's copy is built, the swap not made
    ("_exchange", "after", 1),  # swapped: the old folder, with the old files, is in staging
    ("_exchange", "after", 3),  # three partitions swapped, one not
]


def kill_compaction(lake: Path, name: str, when: str, nth: int, *extra: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", KILLER, str(lake), name, when, str(nth), *extra],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, f"the planted kill was not reached: {result}"


@pytest.mark.parametrize(
    ("name", "when", "nth"), COMPACT_POINTS, ids=[f"{w}-{n}-{k}" for n, w, k in COMPACT_POINTS]
)
def test_a_compaction_killed_at_a_dangerous_point_leaves_events_exact(
    fragmented: Path, small_ids: Counter[str], tmp_path: Path, name: str, when: str, nth: int
) -> None:
    """SIGKILL at the point: DuckDB over events/, before any further write, reads every event
    once; so does trailmin; and the next compaction finishes the job."""
    lake = tmp_path / "lake"
    shutil.copytree(fragmented, lake)

    kill_compaction(lake, name, when, nth)

    count = duckdb.sql(
        f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{lake}/events/**/*.parquet')"
    ).fetchall()
    assert count == [(4_014, 4_014)]
    assert glob_ids(lake) == small_ids
    assert trailmin_ids(lake) == small_ids

    trailmin.compact(lake)

    assert glob_ids(lake) == trailmin_ids(lake) == small_ids
    assert files_on_disk(lake) == Store.open(lake).committed_paths()
    assert len(files_on_disk(lake)) == 4
    assert staged_files(lake) == []


def test_without_a_folder_swap_a_killed_compaction_never_doubles_a_row(
    fragmented: Path, small_ids: Counter[str], tmp_path: Path
) -> None:
    """Where folders cannot be swapped, the old files go before the merged one comes: a kill
    between hides that partition's rows from events/ (never doubles them), trailmin still reads
    them all, and the next write puts them back."""
    lake = tmp_path / "lake"
    shutil.copytree(fragmented, lake)

    kill_compaction(lake, "replace", "before", 1, "no-swap")

    seen = glob_ids(lake)
    assert max(seen.values()) == 1
    assert seen < small_ids  # the partition being swapped is missing
    assert trailmin_ids(lake) == small_ids

    trailmin.compact(lake)

    assert glob_ids(lake) == small_ids
    assert files_on_disk(lake) == Store.open(lake).committed_paths()
    assert staged_files(lake) == []


KILLED_BEFORE_A_MOVE = textwrap.dedent(
    """
    import os, signal, sys
    import trailmin

    replace, moves = os.replace, [0]

    def move(source, target):
        if "/events/" in str(target):
            moves[0] += 1
            if moves[0] == int(sys.argv[3]):
                os.kill(os.getpid(), signal.SIGKILL)
        replace(source, target)

    os.replace = move
    trailmin.ingest([sys.argv[1]], lake=sys.argv[2], workers=1, task_bytes=16_384)
    """
)


@pytest.mark.parametrize("nth", [1, 6])
def test_an_ingest_killed_between_a_commit_and_its_move_shows_only_committed_rows(
    small_corpus: Path, small_ids: Counter[str], tmp_path: Path, nth: int
) -> None:
    """Killed after a commit, before its file is moved into events/: events/ shows committed
    rows only, each once; trailmin reads the committed file from staging; a re-run completes."""
    lake = tmp_path / "lake"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BEFORE_A_MOVE, str(small_corpus), str(lake), str(nth)],
        capture_output=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL

    committed = trailmin_ids(lake)
    seen = glob_ids(lake)
    assert max(committed.values()) == 1
    assert seen < committed <= small_ids  # the file committed but not moved is not in events/
    assert set(files_on_disk(lake)) < set(Store.open(lake).committed_paths())

    assert trailmin.ingest([small_corpus], lake=lake, workers=1).clean

    assert glob_ids(lake) == trailmin_ids(lake) == small_ids
    assert files_on_disk(lake) == Store.open(lake).committed_paths()
    assert staged_files(lake) == []


# --- a lake this user cannot write, a lake another process writes ---------------------------------


WITHOUT_DAC_OVERRIDE = textwrap.dedent(
    """
    import ctypes, os, sys

    # Root reads and writes through any permission; without these two capabilities in the
    # bounding set, the command it runs next cannot.
    PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            sys.exit(77)
    os.execv(sys.argv[1], sys.argv[1:])
    """
)


def unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    """Return the run of ``trailmin <args>`` as a user that permissions apply to."""
    command = [sys.executable, "-m", "trailmin", *args]
    if os.geteuid() == 0:
        command = [sys.executable, "-c", WITHOUT_DAC_OVERRIDE, *command]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    if result.returncode == 77:
        pytest.skip("running as root without CAP_SETPCAP: permissions cannot be made to apply")
    return result


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """Return a folder this user can read but not write (put back writable afterwards)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)


def test_a_lake_in_a_folder_that_cannot_be_written_is_an_error_naming_it(
    small_corpus: Path, read_only: Path
) -> None:
    read_only.chmod(0o500)

    result = unprivileged("ingest", str(small_corpus), "--lake", str(read_only / "lake"))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"error: cannot write in {read_only} (Permission denied), so {read_only / 'lake'} "
        f"cannot be used as a lake; give --lake a folder you can write to, or make {read_only} "
        "writable"
    )


def test_a_lake_made_read_only_is_an_error_naming_the_folder(
    fragmented: Path, small_corpus: Path, read_only: Path
) -> None:
    lake = read_only / "lake"
    shutil.copytree(fragmented, lake)
    for path in [lake, *lake.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)

    for args in (["ingest", str(small_corpus)], ["lake", "compact"], ["principals"]):
        result = unprivileged(*args, "--lake", str(lake))

        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"error: {lake / '_trailmin'} is not writable")
        assert result.stderr.strip().endswith(
            "give --lake a folder you can write to, or make this one writable"
        )


def test_a_lake_under_a_file_is_an_error_naming_the_file(
    small_corpus: Path, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")

    result = cli("ingest", str(small_corpus), "--lake", str(tmp_path / "a-file" / "lake"))

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'a-file'} is a file, not a folder; give --lake a folder"
    )


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from trailmin.lake.store import Store

    held, release = Path(sys.argv[1]), Path(sys.argv[2])
    recover = Store.recover

    def recover_then_hold(self):
        recovery = recover(self)  # the lock is held from here
        held.touch()
        deadline = time.monotonic() + 60
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return recovery

    Store.recover = recover_then_hold
    from trailmin.cli import main

    sys.argv = ["trailmin", *sys.argv[3:]]
    main()
    """
)


@pytest.mark.parametrize("holder", ["compact", "ingest"])
def test_compact_refused_by_a_held_lock_names_the_holder_and_says_to_wait(
    fragmented: Path, small_corpus: Path, tmp_path: Path, holder: str
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(fragmented, lake)
    held, release = tmp_path / "held", tmp_path / "release"
    args = {"compact": ["lake", "compact"], "ingest": ["ingest", str(small_corpus)]}[holder]
    first = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(held), str(release), *args, "--lake", str(lake)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(held.exists, seconds=60), first.communicate()
        second = cli("lake", "compact", "--lake", str(lake))
    finally:
        release.touch()
        _, first_err = first.communicate(timeout=RUN_TIMEOUT)

    assert first.returncode == 0, first_err
    assert second.returncode == 2
    message = second.stderr.strip()
    assert message.startswith(f"error: {lake} is being written by pid {first.pid} since ")
    assert message.endswith("another trailmin process; wait for it to finish, then run this again")
    assert "another lake" not in message
    if holder == "compact":
        assert "(trailmin lake compact), another trailmin process" in message
