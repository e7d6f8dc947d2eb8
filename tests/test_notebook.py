"""notebooks/explore.ipynb is stored without outputs and reads well on any lake: the sample it was
written for, a real one-hour trail, a synthetic trail of 45 principals in five accounts, and a lake
where most sections have nothing to show."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import trailmin
from tests.conftest import ROOT, log_name, make_record, write_delivery
from trailmin.synth.trail import write_trail

NOTEBOOK = ROOT / "notebooks" / "explore.ipynb"
# The bar chart, the heatmap, calls over time, one principal's resources.
FIGURES = {"fig_top", "fig_heat", "fig_time", "fig_resources"}
ACCOUNTS = ("111122223333", "444455556666", "777788889999", "210987654321", "135792468024")

# Run after the notebook's cells: what each figure shows, as its reader sees it once drawn, and
# the label the notebook gave each principal.
PROBE = """
import json

def _seen(fig):
    fig.canvas.draw()
    ax = fig.axes[0]
    seen = {"title": ax.get_title()}
    for axis, ticks in (("rows", ax.get_yticklabels()), ("columns", ax.get_xticklabels())):
        shown = [tick for tick in ticks if tick.get_text()]
        boxes = [tick.get_window_extent() for tick in shown]
        seen[axis] = [tick.get_text() for tick in shown]
        seen[f"{axis} overlap"] = any(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))
    return seen

print(json.dumps({
    "figures": {name: _seen(fig) for name, fig in globals().items() if name.startswith("fig_")},
    "labels": label,
}))
"""


@dataclass(frozen=True, slots=True)
class Run:
    """What one execution of the notebook printed and drew."""

    printed: str
    stderr: str
    images: int
    figures: dict[str, dict[str, Any]]
    labels: dict[str, str]


def run_notebook(monkeypatch: pytest.MonkeyPatch, lake: Path | None) -> Run:
    """Return what the notebook shows when run on ``lake`` (None: the sample it builds)."""
    if lake is None:
        monkeypatch.delenv("TRAILMIN_LAKE", raising=False)
    else:
        monkeypatch.setenv("TRAILMIN_LAKE", str(lake))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    *cells, probe = (c for c in notebook.cells if c.cell_type == "code")
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    streams = [o for o in outputs if o.output_type == "stream"]
    seen = json.loads("".join(o.text for o in probe.outputs if o.output_type == "stream"))
    return Run(
        printed="".join(o.text for o in streams if o.name == "stdout"),
        stderr="".join(o.text for o in streams if o.name == "stderr"),
        images=len([o for o in outputs if "image/png" in o.get("data", {})]),
        figures=seen["figures"],
        labels=seen["labels"],
    )


def assert_reads_well(run: Run, figures: set[str] = FIGURES) -> None:
    """The charts are drawn, without a warning; no two of a chart's labels are the same or
    overlap, and no two principals have the same label."""
    assert run.stderr == ""
    assert run.images == len(figures)
    assert set(run.figures) == figures
    for name, figure in run.figures.items():
        assert not figure["rows overlap"], name
        assert not figure["columns overlap"], name
        if name != "fig_time":
            assert len(set(figure["rows"])) == len(figure["rows"]), name
    assert len(set(run.labels.values())) == len(run.labels)


def test_the_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jupyter_client's own, not ours
def test_the_notebook_runs_on_the_sample_logs(monkeypatch):
    run = run_notebook(monkeypatch, None)
    assert_reads_well(run)
    assert "ingested 1,422 events" in run.printed
    assert (
        "window: the last 90 days up to the newest event (the default), 2026-07-20 23:39 to "
        "2026-10-18 23:39 UTC: 1,409 events of 14 principals; no event of the lake fell outside it"
    ) in run.printed
    assert "counted per 6 hours: 56 points" in run.printed  # 14 days
    assert run.figures["fig_time"]["title"] == "Events per 6 hours by kind of principal"
    top = run.figures["fig_top"]
    # 10: role/vendor-audit and the vendor's account (its AssumeRole calls) among them
    assert top["title"] == "Calls per principal, all 10 principals (orange: people)"
    assert top["rows"][:3] == ["app-backend", "legacy-batch", "alice"]
    assert "arn:aws:iam::111122223333:role/service/app-backend\nthe busiest workload role" in (
        run.printed
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_notebook_reads_a_real_one_hour_trail(monkeypatch, real_logs, tmp_path):
    lake = tmp_path / "lake"
    trailmin.Lake(lake).ingest([real_logs / "invictus-ir"], workers=1)
    run = run_notebook(monkeypatch, lake)
    assert_reads_well(run)
    assert "2,900 events from 2023-07-10 11:42 to 2023-07-10 12:37 UTC" in run.printed
    assert "counted per minute: 56 points" in run.printed
    assert "no event of the lake fell outside it" in run.printed
    assert run.figures["fig_time"]["title"] == "Events per minute by kind of principal"
    assert run.figures["fig_top"]["title"] == (
        "Calls per principal, all 12 principals (orange: people)"
    )
    heat = run.figures["fig_heat"]
    assert heat["title"] == (
        "Calls per principal and IAM service:\ntop 15 of 17 principals × top 15 of 28 services"
    )
    assert heat["rows"][:2] == ["bert-jan", "benjamin"]
    assert "AWSServiceRoleForRDS" in heat["rows"]
    assert "1 kind of event unmapped, 4 events:" in run.printed
    role = "arn:aws:iam::123837392027:role/stratus-red-team-ec2-get-password-data-role"
    assert f"{role}\nthe busiest workload role: 29 calls (29 refused)" in run.printed


@pytest.fixture
def five_accounts(tmp_path) -> Path:
    """A lake of two days of the synthetic organization in five accounts (45 principals, the
    same roles and users in each), and a user named like the CI role in the first account."""
    write_trail(
        tmp_path / "trail",
        start=date(2026, 10, 5),
        days=2,
        events_per_day=300,
        accounts=ACCOUNTS,
        digest=False,
    )
    user = {
        "type": "IAMUser",
        "principalId": "AIDACIDEPLOYUSER",
        "arn": f"arn:aws:iam::{ACCOUNTS[0]}:user/ci-deploy",
        "accountId": ACCOUNTS[0],
        "accessKeyId": "AKIACIDEPLOYUSER",
        "userName": "ci-deploy",
    }
    name = log_name(ACCOUNTS[0], "us-east-1", "20261005T1200Z", "user")
    write_delivery(
        tmp_path / "user" / name, [make_record(n, userIdentity=user) for n in range(120)]
    )
    lake = tmp_path / "lake"
    trailmin.Lake(lake).ingest([tmp_path / "trail", tmp_path / "user"], workers=1)
    return lake


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_notebook_reads_many_principals_in_several_accounts(monkeypatch, five_accounts):
    run = run_notebook(monkeypatch, five_accounts)
    assert_reads_well(run)
    assert "counted per hour: 48 points" in run.printed  # 2 days
    assert run.figures["fig_time"]["title"] == "Events per hour by kind of principal"
    top = run.figures["fig_top"]
    # 47: role/vendor-audit in each account, and the vendor's account
    assert top["title"] == "Calls per principal, top 15 of 47 principals (orange: people)"
    app_backends = {f"app-backend ({account})" for account in ACCOUNTS}
    assert set(top["rows"][:5]) == app_backends
    assert "user/ci-deploy" in top["rows"]
    heat = run.figures["fig_heat"]
    assert heat["title"] == (
        # with the vendor's (vendor-audit in each account, its account's AssumeRole) and config
        "Calls per principal and IAM service:\ntop 15 of 50 principals × top 15 of 22 services"
    )
    assert set(heat["rows"][:5]) == app_backends
    assert len(heat["columns"]) == 15
    labels = run.labels
    assert labels[f"arn:aws:iam::{ACCOUNTS[1]}:role/service/app-backend"] == (
        f"app-backend ({ACCOUNTS[1]})"
    )
    assert labels[f"arn:aws:iam::{ACCOUNTS[0]}:role/ci-deploy"] == f"role/ci-deploy ({ACCOUNTS[0]})"
    assert labels[f"arn:aws:iam::{ACCOUNTS[0]}:user/ci-deploy"] == "user/ci-deploy"
    assert labels[f"arn:aws:iam::{ACCOUNTS[2]}:root"] == f"root ({ACCOUNTS[2]})"
    assert labels["lambda.amazonaws.com"] == "lambda.amazonaws.com"
    busiest = f"arn:aws:iam::{ACCOUNTS[1]}:role/service/app-backend"
    assert f"{busiest}\nthe busiest workload role: 354 calls (0 refused)" in run.printed
    resources = run.figures["fig_resources"]
    assert resources["title"] == (
        f"app-backend ({ACCOUNTS[1]}): calls per resource, top 15 of 86 resources"
    )
    assert resources["rows"][:2] == ["orders (us-east-1)", "orders (eu-west-1)"]  # two tables


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_notebook_says_so_when_a_section_has_nothing_to_show(monkeypatch, tmp_path):
    """One IAM user's calls within a minute: no AWS service, role, refusal or unmapped event."""
    name = log_name(ACCOUNTS[0], "us-east-1", "20261005T1200Z", "alice")
    write_delivery(tmp_path / "logs" / name, [make_record(n) for n in range(30)])
    lake = tmp_path / "lake"
    trailmin.Lake(lake).ingest([tmp_path / "logs"], workers=1)
    run = run_notebook(monkeypatch, lake)
    assert_reads_well(run, FIGURES - {"fig_time"})
    for sentence in (
        "No AWS service acted as a principal in this lake.",
        "counted per minute: 1 point\nAll of them fall within one minute: no line to draw.",
        "No call in this lake was refused.",
        "No event in this lake has an access-denied error code.",
        "No kind of event is unmapped; the busiest kinds:",
        "arn:aws:iam::111122223333:user/alice\n"
        "the busiest principal (no workload role called anything): 30 calls (0 refused), "
        "1 action on 1 resource",
    ):
        assert sentence in run.printed
    assert run.figures["fig_top"]["rows"] == ["alice"]
