"""The examples a user copies: the GitHub Actions workflow pins what it runs."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / "examples" / "github" / "trailmin-propose.yml"


def test_the_workflow_pins_every_action_and_trailmin_to_a_commit():
    """The job can get an AWS token (id-token: write): every action it runs is a full commit
    SHA (a tag can be moved), and trailmin is installed from a commit, not a package index it is
    not on."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    actions = [step["uses"] for step in steps if "uses" in step]
    assert len(actions) == 5
    for action in actions:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
    installs = [step["run"] for step in steps if "pip install" in step.get("run", "")]
    assert installs == ['pip install "$TRAILMIN_GIT"']
    assert re.fullmatch(r"git\+https://\S+@[0-9a-f]{40}", workflow["env"]["TRAILMIN_GIT"])
