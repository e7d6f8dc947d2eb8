"""Tables in a terminal (issue 16): a row a line at 80 columns, names whole, piped output whole."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

import trailmin
from tests.conftest import SAMPLE_LOGS, make_record, write_delivery
from trailmin import api
from trailmin.cli import _print_table
from trailmin.text import shorten
from trailmin.text.shorten import Head

AWS = Head("aws", "111122223333")


@pytest.mark.parametrize(
    ("arn", "head", "shown"),
    [
        ("arn:aws:iam::111122223333:user/alice", AWS, "user/alice"),
        ("arn:aws:iam::111122223333:role/service/app", AWS, "role/service/app"),
        ("arn:aws:iam::111122223333:root", AWS, "root"),
        ("arn:aws:ssm:us-east-1:111122223333:parameter/x", AWS, "ssm:us-east-1::parameter/x"),
        ("arn:aws:s3:::bucket/key", AWS, "s3:::bucket/key"),
        ("arn:aws:iam::444455556666:role/x", AWS, "iam::444455556666:role/x"),
        ("arn:aws:iam::444455556666:role/x", Head("aws", None), "iam::444455556666:role/x"),
        ("arn:aws-cn:iam::111122223333:role/x", AWS, "arn:aws-cn:iam::111122223333:role/x"),
        ("arn:aws:iam::111122223333:role/x", None, "arn:aws:iam::111122223333:role/x"),
        ("lambda.amazonaws.com", AWS, "lambda.amazonaws.com"),
        ("*", AWS, "*"),
    ],
)
def test_shorten_arn_drops_only_the_head_the_table_states(arn, head, shown):
    """An ARN loses the partition and account said above the table, nothing else."""
    assert shorten.shorten_arn(arn, head) == shown


@pytest.mark.parametrize(
    ("names", "head"),
    [
        (["arn:aws:iam::111122223333:user/a", "arn:aws:iam::111122223333:role/b", "AWS"], AWS),
        (
            ["arn:aws:iam::111122223333:user/a", "arn:aws:iam::444455556666:user/a"],
            Head("aws", None),
        ),
        (["arn:aws:iam::111122223333:user/a", "arn:aws-cn:iam::111122223333:user/a"], None),
        (["arn:aws-cn:iam::111122223333:user/a"], Head("aws-cn", "111122223333")),
        (["lambda.amazonaws.com"], None),
        ([], None),
    ],
)
def test_common_head_is_the_partition_and_account_every_arn_shares(names, head):
    """One partition and account: both; several accounts in aws: the partition; else none."""
    assert shorten.common_head(names) == head


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("role/aws-reserved/sso.amazonaws.com/eu-west-1/Admin_ef13", "role/…/Admin_ef13"),
        ("iam::444455556666:user/team/bob", "iam::444455556666:user/…/bob"),
        ("role/ci-deploy", "role/ci-deploy"),
        ("sts:::assumed-role/Role/session", "sts:::assumed-role/Role/session"),
        ("AWS Internal", "AWS Internal"),
    ],
)
def test_drop_path_keeps_the_name_iam_makes_unique(name, shown):
    """A role or user keeps its kind and name; anything else is unchanged."""
    assert shorten.drop_path(name) == shown


@pytest.mark.parametrize(
    ("text", "width", "shown"),
    [
        ("ssm:us-east-1::parameter/team/credentials-0", 24, "ssm:…/team/credentials-0"),
        ("abcdefghij", 7, "ab…ghij"),
        ("abcdefghij", 10, "abcdefghij"),
        ("abc", 1, "…"),
    ],
)
def test_elide_middle_keeps_the_service_and_the_end(text, width, shown):
    """A long resource keeps its service and the end that names it."""
    assert shorten.elide_middle(text, width) == shown
    assert len(shorten.elide_middle(text, width)) <= width


def test_plan_columns_takes_columns_by_priority_while_they_fit():
    """The first column always; the next ones that fit; a narrowed column widens last."""
    natural = {"name": 30, "big": 40, "calls": 5, "resource": 50}
    plan = shorten.plan_columns(
        natural,
        order=["name", "big", "calls", "resource"],
        priority=["name", "resource", "big", "calls"],
        width=80,
        least={"resource": 20},
    )
    assert plan.widths == {"name": 30, "calls": 5, "resource": 41}
    assert plan.hidden == ("big",)


@pytest.fixture(scope="module")
def lakes(tmp_path_factory, real_logs) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tables")
    found = {"sample": SAMPLE_LOGS, "invictus": real_logs / "invictus-ir"}
    for name, logs in found.items():
        trailmin.ingest([logs], lake=root / name, workers=1)
    return {name: root / name for name in found}


def terminal(width: int = 80) -> Console:
    return Console(
        width=width,
        force_terminal=True,
        record=True,
        file=io.StringIO(),
        markup=False,
        highlight=False,
        soft_wrap=True,  # as the CLI's console is
    )


def rendered(frame, kind: str, console: Console) -> list[str]:
    _print_table(frame, kind, console=console)
    return console.export_text().splitlines()


def shown_names(principals: list[str], width: int = 80) -> list[str]:
    head = shorten.common_head(principals)
    names = [shorten.shorten_arn(p, head) for p in principals]
    return [shorten.drop_path(n) if len(n) > width // 2 else n for n in names]


@pytest.mark.parametrize("lake", ["sample", "invictus"])
def test_principals_at_80_columns_show_each_name_whole_on_its_line(lakes, lake):
    """No line over 80, a row a line, each shortened name whole, the account stated."""
    frame = api.principals(lakes[lake])
    lines = rendered(frame, "principals", terminal())
    assert max(cell_len(line) for line in lines) <= 80
    # The account line, the header, the rows, the footer (two lines when it wraps).
    assert len(frame) + 2 <= len(lines) <= len(frame) + 5
    # The sample's principals span two accounts (its own, and the vendor's that assumes
    # role/vendor-audit): only the partition is common to them.
    head = {
        "sample": "ARNs shown without arn:aws:",
        "invictus": "account 123837392027 (aws): ARNs shown without ",
    }[lake]
    assert lines[0].startswith(head)
    for name in shown_names(list(frame["principal"])):
        # whole, and alone or followed by the next column (the widest may fill the line)
        assert any(f"{line} ".startswith(name + " ") for line in lines), name
    footer = " ".join(lines[len(frame) + 2 :])
    assert footer.startswith("(columns hidden at 80 columns: principal_type")
    assert footer.endswith("--format csv shows all)")


@pytest.mark.parametrize(("lake", "service"), [("sample", None), ("invictus", "ssm")])
def test_usage_at_80_columns_is_a_row_a_line_under_each_principal(lakes, lake, service):
    """Issue 16: `usage --service ssm` was 1,524 lines for 173 rows."""
    frame = api.usage(lakes[lake], services=[service] if service else None)
    lines = rendered(frame, "usage", terminal())
    assert max(cell_len(line) for line in lines) <= 80
    principals = shown_names(list(dict.fromkeys(frame["principal"])))
    # The account (two lines), the header, a heading per principal, the rows, the footer.
    assert len(lines) <= 2 + 1 + len(principals) + len(frame) + 2
    for name in principals:
        assert name in lines, name
    for action in frame["action"]:
        assert any(line.startswith(f"  {action} ") for line in lines), action


def test_services_at_80_columns_hide_the_last_seen_of_a_long_service_name(lakes):
    """resource-explorer-2 leaves no room for last_seen; the footer says so."""
    frame = api.services(lakes["invictus"])
    lines = rendered(frame, "services", terminal())
    assert max(cell_len(line) for line in lines) <= 80
    assert len(lines) == len(frame) + 2
    assert lines[0].split() == ["service", "calls", "denied", "errors", "principals", "actions"]
    assert lines[-1] == "(columns hidden at 80 columns: last_seen; --format csv shows all)"
    assert [line.split()[0] for line in lines[1:-1]] == list(frame["service"])


@pytest.mark.parametrize("kind", ["principals", "usage"])
def test_piped_output_is_every_full_arn_a_row_a_line(lakes, kind):
    """Redirected to a file, nothing is shortened, folded or cut."""
    frame = getattr(api, kind)(lakes["invictus"])
    piped = Console(file=io.StringIO(), width=80, force_terminal=False)
    _print_table(frame, kind, console=piped)
    lines = piped.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == len(frame) + 1
    assert "…" not in piped.file.getvalue()  # type: ignore[attr-defined]
    for line, principal in zip(lines[1:], frame["principal"], strict=True):
        assert line.startswith(principal + " ")
    if kind == "usage":
        for line, resource in zip(lines[1:], frame["resource"], strict=True):
            assert f" {resource} " in line


def test_a_name_wider_than_the_terminal_folds_as_the_last_resort(tmp_path):
    """Markup in a name stays text; a name wider than the terminal folds, every character kept."""
    name = "arn:aws:iam::111122223333:user/[bold]x-" + "n" * 70
    record = make_record(1)
    record["userIdentity"]["arn"] = name
    lake = tmp_path / "lake"
    trailmin.ingest([write_delivery(tmp_path / "src" / "t.json.gz", [record]).parent], lake=lake)
    lines = rendered(api.principals(lake), "principals", terminal(width=40))
    assert max(cell_len(line) for line in lines) <= 40
    assert "user/[bold]x-" + "n" * 70 in "".join(line.strip() for line in lines)
