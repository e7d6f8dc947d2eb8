"""Regenerate ``sample_logs/``: a small synthetic CloudTrail bucket for tests, demos and docs.

Run from anywhere: ``.venv/bin/python scripts/make_sample_logs.py``. It deletes the old tree and
writes the same bytes again (``tests/test_synth.py`` checks that the committed tree matches).
"""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Any

from trailmin.synth.trail import SynthSummary, write_trail

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_logs"

# Small on purpose (under a thousand files, about 1 MB) yet showing every case the tests name,
# over two weeks so that the checklist's last 7 days have a baseline to be compared with.
SAMPLE_ARGS: dict[str, Any] = {
    "seed": 7,
    "start": date(2026, 10, 5),
    "days": 14,
    "events_per_day": 100,
    "accounts": ("111122223333",),
    "org_id": "o-a1b2c3d4e5",
    "regions": ("us-east-1", "eu-west-1"),
    "events_per_file": 25,
    "digest": True,
}

README = """\
# sample_logs

A small, synthetic CloudTrail trail for a fictional organization (Acme), laid out as an
organization trail writes to S3: gzipped `{"Records": [...]}` delivery files under
`AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/<region>/<yyyy>/<mm>/<dd>/` and hourly digest files
under `CloudTrail-Digest/`, for 2026-10-05 to 2026-10-18 in us-east-1 and eu-west-1.

It is made by `trailmin.synth.trail.write_trail`, not recorded from AWS: every ID, key and
address in it is invented. Regenerate it (byte for byte; the old tree is deleted first) with:

    .venv/bin/python scripts/make_sample_logs.py

which calls `write_trail(Path("sample_logs"), seed=7, start=date(2026, 10, 5), days=14,
events_per_day=100, accounts=("111122223333",), org_id="o-a1b2c3d4e5",
regions=("us-east-1", "eu-west-1"), events_per_file=25)`. `tests/test_synth.py` fails when this
tree and the generator disagree.
"""


def make_sample_logs(out_dir: Path = SAMPLE_DIR) -> SynthSummary:
    """Return what was written to ``out_dir``, after deleting whatever was there."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    summary = write_trail(out_dir, **SAMPLE_ARGS)
    (out_dir / "README.md").write_text(README, encoding="utf-8")
    return summary


def main() -> int:
    summary = make_sample_logs()
    print(
        f"{SAMPLE_DIR}: {summary.events:,} events in {summary.files:,} log files "
        f"and {summary.digest_files:,} digest files, {summary.bytes:,} bytes gzipped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
