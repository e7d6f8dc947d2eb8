"""Record data in what people read is text: escaped for Markdown, literal in Terraform and YAML.

Issue 14, point 5: a user agent ending in ``<!--`` hid the rest of index.md on GitHub; ARNs and
names split table rows and added headings and links. The rendering checks use markdown-it-py (a
CommonMark parser, with GFM's tables and strikethrough; rich depends on it), not GitHub's
cmark-gfm, which is not a dependency: the exact lines pin what GitHub-only rules need.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from hcl2.utils import SerializationOptions
from hypothesis import assume, example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tests.conftest import log_name, make_record, write_delivery
from trailmin.iam.audit import Audit, Finding
from trailmin.iam.diff import Diff, NotGranted, TooBroad, UnusedService, to_markdown
from trailmin.job.config import load_config
from trailmin.job.propose import Status, index_markdown, propose
from trailmin.policy.generate import Proposal, Used, generate
from trailmin.policy.render import render
from trailmin.policy.review import Review, ReviewItem
from trailmin.text import markdown as md

A = "111122223333"
GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])

AGENT = "Mozilla <!-- "
PIPE = f"arn:aws:iam::{A}:role/a|b"
SESSION = f"arn:aws:sts::{A}:assumed-role/deploy/x\n# Heading"
LINKED = f"arn:aws:iam::{A}:role/[click](https://evil.example)"
TICKED = "arn:aws:s3:::b/`x`"
SCRIPT = "<script>alert(1)</script>"
IMAGE = "![](http://x/y.png)"
BOLD = "*bold*"


def plain(line: str) -> Iterator[int]:
    """Yield the positions in ``line`` of the characters no backslash escapes."""
    escaped = False
    for i, char in enumerate(line):
        if not escaped:
            yield i
        escaped = char == "\\" and not escaped


def separators(line: str) -> int:
    """Return the number of unescaped ``|`` in a line: the cell separators of a table row."""
    return sum(1 for i in plain(line) if line[i] == "|")


def unescaped(line: str, needle: str) -> bool:
    """Return whether ``needle`` occurs in ``line`` with its first character not escaped."""
    return any(line.startswith(needle, i) for i in plain(line))


def check_structure(text: str, headings: list[str]) -> None:
    """Every table row has its header's cells; the only headings are ``headings``; no HTML but
    trailmin's ``<br>``, no link but to a folder of trailmin's, no image, no emphasis."""
    lines = text.splitlines()
    for i, line in enumerate(lines[:-1]):
        if lines[i + 1].startswith("|---"):
            width = separators(line)
            for row in lines[i + 1 :]:
                if not row:
                    break
                assert separators(row) == width, row
    assert [line for line in lines if line.startswith("#")] == headings
    assert not any(unescaped(line, "<!--") for line in lines)
    tokens = GFM.parse(text)
    assert [t.type for t in tokens if t.type == "heading_open"] == ["heading_open"] * len(headings)
    assert not [t for t in tokens if t.type == "html_block"]
    for inline in (t for t in tokens if t.type == "inline"):
        for child in inline.children or ():
            assert child.type not in {"image", "em_open", "s_open", "code_block"}, child
            if child.type == "html_inline":
                assert child.content == "<br>"
            if child.type == "link_open":
                href = str(child.attrs["href"])
                assert href.startswith("./")
                assert href.endswith("/")
                assert "/" not in href[2:-1]


# --- the helper ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (AGENT, r"Mozilla \<!-- "),
        ("a|b", r"a\|b"),
        ("x\n# Heading", r"x\\n# Heading"),
        ("[click](https://evil.example)", r"\[click\](https\://evil.example)"),
        ("x`y", r"x\`y"),
        (SCRIPT, r"\<script\>alert(1)\</script\>"),
        (IMAGE, r"!\[\](http\://x/y.png)"),
        (BOLD, r"\*bold\*"),
        ("<details><summary>x</summary>", r"\<details\>\<summary\>x\</summary\>"),
        ("_x_ a_b", r"\_x\_ a_b"),
        ("# x #", r"\# x \#"),
        ("- x", r"\- x"),
        ("1. x", r"1\. x"),
        ("> x", r"\> x"),
        ("===", r"\==="),
        ("~~x~~", r"\~\~x\~\~"),
        ("&lt;", r"\&lt;"),
        ("${aws:username} $x$", r"\${aws:username} \$x\$"),
        ("see www.evil.example", r"see www\.evil.example"),
        ("a\\", r"a\\"),
        ("a\tb\x1bc\u202ed", r"a\\tb\\x1bc\\u202ed"),
        # Ordinary ARNs are written as they are.
        (f"arn:aws:iam::{A}:role/deploy", f"arn:aws:iam::{A}:role/deploy"),
        (
            f"arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
            "AWSReservedSSO_Admin_ef13406b01f4da88",
            f"arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
            "AWSReservedSSO_Admin_ef13406b01f4da88",
        ),
        ("192.0.2.1", "192.0.2.1"),
        ("Boto3/1.34 md/Botocore#1.34", "Boto3/1.34 md/Botocore#1.34"),
        ("arn:aws:s3:::b/*", r"arn:aws:s3:::b/\*"),
    ],
)
def test_text_escapes_what_could_be_markdown(value, shown):
    """Each construct is escaped; an ordinary ARN, address or user agent reads the same."""
    assert md.text(value) == shown
    assert md.cell(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (f"arn:aws:iam::{A}:role/deploy", f"`arn:aws:iam::{A}:role/deploy`"),
        (TICKED, "`` arn:aws:s3:::b/`x` ``"),
        ("a``b", "```a``b```"),
        ("`", "`` ` ``"),
        (AGENT, "`Mozilla <!-- `"),
        (" a ", "`  a  `"),
        ("x\n# Heading", r"`x\n# Heading`"),
        ("", "` `"),
    ],
)
def test_code_spans_hold_any_backticks(value, shown):
    """The fence is longer than any run of backticks in the value, spaced off one at an end."""
    assert md.code(value) == shown


def test_links_to_trailmins_folders():
    assert md.link(LINKED, f"{A}-role-x") == (
        rf"[arn:aws:iam::{A}:role/\[click\](https\://evil.example)](./{A}-role-x/)"
    )
    # A folder from an edited state file: encoded, so the link stays one link to it.
    assert md.link("p", "a b)(c") == "[p](./a%20b%29%28c/)"


# Text that is mostly Markdown's own characters, so that Hypothesis tries its constructs, and
# a value of each construct, tried first.
MARKUP = st.text(st.sampled_from("a1 _*`#-+=.)|[]()<>!~&$\\:/w\n") | st.characters())
CONSTRUCTS = ["_a_", "x #", "- x", "1. x", "2) x", "===", "a*b*", "`a`", "[a](b)", "<!--", "a|b"]


def constructs(test: Any) -> Any:
    """Try ``test`` on a value of each construct before Hypothesis's own."""
    for value in reversed(CONSTRUCTS):
        test = example(value)(test)
    return test


def inlines(source: str) -> list[Any]:
    """Return the children of the last inline token of ``source`` parsed."""
    inline = [t for t in GFM.parse(source) if t.type == "inline"][-1]
    return list(inline.children or ())


@given(MARKUP)
@constructs
def test_a_cell_renders_as_one_cell_holding_the_value(value):
    """One line, no unescaped |, and the rendered cell is the value: its escapes undone."""
    shown = md.cell(value)
    assert "\n" not in shown
    assert "\r" not in shown
    assert separators(shown) == 0
    assert md.unescape(shown) == md.visible(value)
    tokens = GFM.parse(f"| h | n |\n|---|---|\n| {shown} | 1 |\n")
    assert [t.type for t in tokens].count("td_open") == 2
    cell = [t for t in tokens if t.type == "inline"][2]
    assert {c.type for c in cell.children or ()} <= {"text"}
    assert "".join(c.content for c in cell.children or ()) == md.visible(value).strip(" ")


@given(MARKUP)
@constructs
def test_text_at_the_start_of_a_line_opens_no_block(value):
    """A list item's text opens no heading, list, quote, fence or HTML: it is the value."""
    assume(md.visible(value).strip(" "))
    assume(not md.visible(value).startswith("    "))  # an indented code block: literal too
    tokens = GFM.parse(f"- {md.text(value)}\n")
    assert [t.type for t in tokens] == [
        "bullet_list_open",
        "list_item_open",
        "paragraph_open",
        "inline",
        "paragraph_close",
        "list_item_close",
        "bullet_list_close",
    ]
    children = inlines(f"- {md.text(value)}\n")
    assert {c.type for c in children} <= {"text"}
    assert "".join(c.content for c in children) == md.visible(value).strip(" ")


@given(MARKUP)
@constructs
def test_a_heading_holds_the_value_whole(value):
    """No closing # is dropped, and nothing but text is in the heading."""
    assume(md.visible(value).strip(" "))
    (heading,) = [t for t in GFM.parse(f"## {md.text(value)}\n") if t.type == "heading_open"]
    assert heading.tag == "h2"
    children = inlines(f"## {md.text(value)}\n")
    assert {c.type for c in children} <= {"text"}
    assert "".join(c.content for c in children) == md.visible(value).strip(" ")


@given(MARKUP)
@constructs
def test_a_code_span_holds_the_value_whole(value):
    """The code span ends where trailmin ends it, and holds the value."""
    children = inlines(f"on {md.code(value)} here\n")
    assert [c.type for c in children] == ["text", "code_inline", "text"]
    assert children[1].content == (md.visible(value) or " ")


@given(MARKUP)
@constructs
def test_a_link_label_is_the_value_and_the_target_the_folder(value):
    """One link, to trailmin's folder, whatever the label holds."""
    children = inlines(f"- {md.link(value, f'{A}-role-x')}: x\n")
    assert [c.type for c in children if c.type != "text"] == ["link_open", "link_close"]
    assert children[0].attrs["href"] == f"./{A}-role-x/"
    label = children[1 : children.index(next(c for c in children if c.type == "link_close"))]
    assert "".join(c.content for c in label) == md.visible(value)


# --- each writer, from its real values -----------------------------------------------------------


def status(principal: str, folder: str, **values: Any) -> Status:
    """Return a new principal's status: one policy, two permissions removed, and ``values``."""
    counts = {"policies": 1, "removed": 2, "services_dropped": 0, "scoped": 0, "not_granted": 0}
    return Status(
        principal, folder, "new", **({"candidates": 0, "skipped": None} | counts | values)
    )


def hostile_statuses() -> list[Status]:
    broken = (f"s3:GetObject on {TICKED} (resource, 1 calls)",)
    return [
        status(PIPE, f"{A}-role-a-b", breakage=0.5, later_calls=4, broken=broken),
        status(LINKED, f"{A}-role-link", candidates=2, skipped=f"no call: {SCRIPT}"),
        status(SESSION, f"{A}-x", skipped=IMAGE),
    ]


def test_index_shows_names_and_reasons_as_text():
    item = ReviewItem(
        policy="p",
        sid="Sid1",
        action="iam:PassRole",
        resources=(TICKED,),
        category="privilege-escalation",
        any_resource=False,
        provenance="x",
        granted_as="iam:Pass*",
    )
    reviews = {PIPE: Review(PIPE, (item,)), LINKED: Review(LINKED, (), ("NEW_NETWORK",))}
    text = index_markdown(hostile_statuses(), unusual={LINKED: ("NEW_NETWORK",)}, reviews=reviews)
    lines = text.splitlines()
    for line in [
        rf"### [arn:aws:iam::{A}:role/a\|b](./{A}-role-a-b/)",
        "- `iam:PassRole` on `` arn:aws:s3:::b/`x` `` (as `iam:Pass*`): privilege escalation, "
        "statement `Sid1`",
        rf"### [arn:aws:iam::{A}:role/\[click\](https\://evil.example)](./{A}-role-link/)",
        rf"| [arn:aws:iam::{A}:role/a\|b](./{A}-role-a-b/) | 2 | 0 | 0 | 0 | 0 | 1 | "
        "50.0% of 4 **not yet stable** |",
        rf"| [arn:aws:sts::{A}:assumed-role/deploy/x\\n# Heading](./{A}-x/) | 2 | 0 | 0 | 0 | 0 "
        "| 1 | n/a |",
        rf"- [arn:aws:iam::{A}:role/a\|b](./{A}-role-a-b/): 50.0% of 4 later calls refused: "
        r"s3:GetObject on arn:aws:s3:::b/\`x\` (resource, 1 calls)",
        rf"- [arn:aws:iam::{A}:role/\[click\](https\://evil.example)](./{A}-role-link/): "
        r"no call: \<script\>alert(1)\</script\>",
        rf"- [arn:aws:sts::{A}:assumed-role/deploy/x\\n# Heading](./{A}-x/): !\[\](http\://x/y.png)",
    ]:
        assert line in lines
    check_structure(
        text,
        [
            "# Least-privilege proposals",
            "## Review first",
            rf"### [arn:aws:iam::{A}:role/a\|b](./{A}-role-a-b/)",
            rf"### [arn:aws:iam::{A}:role/\[click\](https\://evil.example)](./{A}-role-link/)",
            "## Proposals",
            "## Not yet stable",
            "## Principals without a proposal",
            "## Candidate additions",
        ],
    )


def hostile_diff() -> Diff:
    return Diff(
        principal=SESSION,
        policies=(f"{BOLD} (inline)", f"{SCRIPT} (managed, via group a|b)"),
        boundary=IMAGE,
        granted=3,
        used_and_granted=(("s3:GetObject", 1),),
        unused=(UnusedService("s3", 2, ("s3:PutObject",), False),),
        too_broad=(TooBroad("s3:GetObject", ("arn:aws:s3:::*",), (TICKED,), (TICKED, PIPE)),),
        unknown=(),
        not_granted=(
            NotGranted("s3:GetObject", f"arn:aws:s3:::{AGENT}|x", 1, "no identity policy grants"),
        ),
        refused=(("s3:PutObject", LINKED, 2),),
        notes=(f"the details hold no document for {SCRIPT}: what it grants is not counted",),
    )


def test_diff_shows_names_and_resources_as_text():
    text = to_markdown([hostile_diff()])
    lines = text.splitlines()
    for line in [
        rf"## arn:aws:sts::{A}:assumed-role/deploy/x\\n# Heading",
        r"Policies: \*bold\* (inline), \<script\>alert(1)\</script\> (managed, via group a\|b); "
        r"boundary: !\[\](http\://x/y.png).",
        r"> the details hold no document for \<script\>alert(1)\</script\>: what it grants is not "
        "counted",
        rf"| s3:GetObject | arn:aws:s3:::\* | 1 ARN | arn:aws:s3:::b/\`x\`<br>arn:aws:iam::{A}:"
        r"role/a\|b |",
        r"| s3:GetObject | arn:aws:s3:::Mozilla \<!-- \|x | 1 | no identity policy grants |",
        rf"| s3:PutObject | arn:aws:iam::{A}:role/\[click\](https\://evil.example) | 2 |",
    ]:
        assert line in lines
    cells = GFM.render(text).split("<td>")
    assert "arn:aws:s3:::Mozilla &lt;!-- |x</td>\n" in cells
    check_structure(
        text,
        [
            "# What each principal holds against what it used",
            rf"## arn:aws:sts::{A}:assumed-role/deploy/x\\n# Heading",
            "### Granted but unused",
            "### Granted too broadly",
            "### Used but not granted",
            "### Asked for and refused",
        ],
    )


def test_checklist_shows_messages_and_evidence_as_text():
    finding = Finding(
        "LONG_TERM_KEY_IN_USE",
        "medium",
        (TICKED, PIPE),
        f"access key AKIA made 1 call from {AGENT}|{IMAGE}",
        ({"user_agents": [AGENT, SCRIPT], "source_ips": ["x\n# Heading"]},),
    )
    text = Audit([finding], notes=[f"{LINKED} networks change all the time"]).to_markdown()
    assert text.splitlines() == [
        "# IAM security checklist",
        "",
        f"- **medium** `LONG_TERM_KEY_IN_USE` `` {TICKED} ``, `{PIPE}`: access key AKIA made 1 "
        r"call from Mozilla \<!-- \|!\[\](http\://x/y.png)",
        r"  - user_agents: Mozilla \<!-- , \<script\>alert(1)\</script\>; source_ips: "
        r"x\\n# Heading",
        "",
        rf"> arn:aws:iam::{A}:role/\[click\](https\://evil.example) networks change all the time",
    ]
    check_structure(text, ["# IAM security checklist"])


# --- the job, on a lake of hostile records -------------------------------------------------------

# IAM API reference, User: a name is of [\w+=,.@-], a path any printable ASCII between slashes.
NAME = "deploy+=,.@-_1"
PATH = "/[click](https://evil.example)/a|b*bold*/"
USER = f"arn:aws:iam::{A}:user{PATH}{NAME}"
FOLDER = f"{A}-user--click--https---evil.example--a-b-bold--deploy+=,.@-_1"


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> Path:
    """The job run on a user whose path, name, user agent, address, keys and policy name are
    hostile; returns its output directory."""
    root = tmp_path_factory.mktemp("hostile")
    identity = {
        "type": "IAMUser",
        "principalId": "AIDAHOSTILE",
        "arn": USER,
        "accountId": A,
        "accessKeyId": "AKIAHOSTILE000000001",
        "userName": NAME,
    }
    calls = {"userIdentity": identity, "userAgent": AGENT}
    records = [
        make_record(
            n,
            **calls,
            sourceIPAddress=SCRIPT,
            eventSource="s3.amazonaws.com",
            eventName="GetObject",
            managementEvent=False,
            eventCategory="Data",
            requestParameters={"bucketName": "b", "key": f"x`y{IMAGE}"},
        )
        for n in range(3)
    ]
    records.append(
        make_record(
            5,
            **calls,
            eventSource="iam.amazonaws.com",
            eventName="PutRolePolicy",
            requestParameters={"roleName": "r`t", "policyName": "p"},
        )
    )
    records.append(
        make_record(
            6,
            **calls,
            eventSource="s3.amazonaws.com",
            eventName="PutObject",
            errorCode="AccessDenied",
            errorMessage="no <!-- x",
            requestParameters={"bucketName": "b", "key": "x\n# Heading"},
        )
    )
    write_delivery(root / "logs" / log_name(A, "us-east-1", "20261005T0000Z", "a"), records)
    statement = {"Effect": "Allow", "Action": ["s3:*", "iam:PutRolePolicy"], "Resource": "*"}
    user = {
        "Path": PATH,
        "UserName": NAME,
        "UserId": "AIDAHOSTILE",
        "Arn": USER,
        "GroupList": [],
        "UserPolicyList": [
            {
                "PolicyName": IMAGE,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            }
        ],
        "AttachedManagedPolicies": [],
    }
    details = {
        "UserDetailList": [user],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    (root / "auth.json").write_text(json.dumps(details))
    (root / "t.toml").write_text(
        f"""
[sources]
paths = ["{root / "logs"}"]
[lake]
path = "{root / "lake"}"
[policies]
auth_file = "{root / "auth.json"}"
[output]
directory = "{root / "out"}"
formats = ["json", "terraform", "cloudformation"]
[generate]
# The user's own proposal files are what is checked here: with groups, its inline policy would
# move to a group named from its name (tests/test_groups.py), leaving the user no policy file.
groups = false
"""
    )
    propose(load_config(root / "t.toml"))
    return root / "out"


SHOWN_USER = rf"arn:aws:iam::{A}:user/\[click\](https\://evil.example)/a\|b\*bold\*/deploy+=,.@-\_1"


def test_the_jobs_index_shows_the_records_as_text(job):
    text = (job / "index.md").read_text()
    lines = text.splitlines()
    for line in [
        f"### [{SHOWN_USER}](./{FOLDER}/)",
        f"| [{SHOWN_USER}](./{FOLDER}/) | 179 | 0 | 2 | 0 | 1 | 1 | "
        "100.0% of 1 **not yet stable** |",
        f"- [{SHOWN_USER}](./{FOLDER}/): 1 permission refused",
        f"- **medium** `LONG_TERM_KEY_IN_USE` `{USER}`: access key AKIAHOSTILE000000001 made 5 "
        r"calls from 192.0.2.1, \<script\>alert(1)\</script\>; a role (or IAM Identity Center for "
        "people) would serve",
    ]:
        assert line in lines
    (evidence,) = [line for line in lines if line.startswith("  - access_key_id:")]
    assert (
        r"source_ips: 192.0.2.1, \<script\>alert(1)\</script\>; user_agents: Mozilla \<!-- ;"
        in (evidence)
    )
    check_structure(
        text,
        [
            "# Least-privilege proposals",
            "## Review first",
            f"### [{SHOWN_USER}](./{FOLDER}/)",
            "## Proposals",
            "## Not yet stable",
            "## Candidate additions",
            "## IAM security checklist",
        ],
    )


def test_the_jobs_diff_shows_the_records_as_text(job):
    text = (job / FOLDER / "diff.md").read_text()
    lines = text.splitlines()
    for line in [
        f"## {SHOWN_USER}",
        r"Policies: !\[\](http\://x/y.png) (inline).",
        r"| s3:GetObject | \* | 1 ARN | arn:aws:s3:::b/x\`y!\[\](http\://x/y.png) |",
        r"| s3:PutObject | arn:aws:s3:::b/x\\n# Heading | 1 |",
    ]:
        assert line in lines
    check_structure(
        text,
        [
            "# What each principal holds against what it used",
            f"## {SHOWN_USER}",
            "### Granted but unused",
            "### Granted too broadly",
            "### Asked for and refused",
        ],
    )


def test_the_jobs_terraform_and_template_hold_the_name_literally(job):
    (user,) = hcl_resources((job / FOLDER / "main.tf").read_text())[
        "aws_iam_user_policy_attachment"
    ]
    assert hcl_string(user["user"]) == NAME
    template = yaml.safe_load((job / FOLDER / "template.yaml").read_text())
    (policy,) = template["Resources"].values()
    assert policy["Properties"]["Users"] == [NAME]


# --- Terraform and CloudFormation ----------------------------------------------------------------


def hcl_resources(text: str) -> dict[str, list[dict[str, Any]]]:
    """Return the resources of a Terraform file by type."""
    options = SerializationOptions(strip_string_quotes=True, with_comments=False)
    found: dict[str, list[dict[str, Any]]] = {}
    for block in hcl2.loads(text, serialization_options=options)["resource"]:
        for kind, named in block.items():
            found.setdefault(kind, []).extend(named.values())
    return found


def hcl_string(value: str) -> str:
    """Return an HCL string's value: python-hcl2 keeps the template escapes ``$${`` and ``%%{``."""
    return value.replace("$${", "${").replace("%%{", "%{")


WHEN = datetime(2026, 10, 5, tzinfo=UTC)
# IAM paths take any printable ASCII between slashes: quotes, template markers, YAML tags.
HOSTILE_PATHS = [
    '/a"b${x}%{y}\\z|*bold*<!--`/',
    "/%{for~x~in~y}${x}%{endfor}/",
    "/'\"---!!python/object:os.system/",
]
ROLE_NAME = "deploy+=,.@-_1"


def proposal_for(path: str) -> Proposal:
    """Return the proposal for a role on a hostile path, from one call."""
    role = f"arn:aws:iam::{A}:role{path}{ROLE_NAME}"
    (proposal,) = generate(
        [Used(role, "Role", "s3:GetObject", "arn:aws:s3:::b/k", 1, 1, 0, WHEN, WHEN)]
    )
    assert proposal.target is not None
    assert proposal.target.name == ROLE_NAME
    assert proposal.target.path == path
    return proposal


@pytest.mark.parametrize("name", ['a"b${x}', 'x\rresource "evil" {}', "x\u2028# y", "admin\n"])
def test_a_name_iam_cannot_hold_gets_no_proposal_to_apply(name):
    """A record naming a role IAM could not have ("admin\\n" is not admin) gets no target, so
    nothing is written for Terraform or CloudFormation to apply."""
    role = f"arn:aws:iam::{A}:role/{name}"
    (proposal,) = generate(
        [Used(role, "Role", "s3:GetObject", "arn:aws:s3:::b/k", 1, 1, 0, WHEN, WHEN)]
    )
    assert proposal.target is None


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_terraform_holds_a_hostile_name_literally(path):
    proposal = proposal_for(path)
    (text,) = [t for p, t in render([proposal], "terraform").items() if p.endswith("main.tf")]
    assert (
        text.splitlines()[0] == f"# trailmin: least privilege for {md.visible(proposal.principal)}"
    )
    assert "\r" not in text
    assert "\u2028" not in text
    resources = hcl_resources(text)
    assert sorted(resources) == ["aws_iam_policy", "aws_iam_role_policy_attachment"]
    (attachment,) = resources["aws_iam_role_policy_attachment"]
    assert hcl_string(attachment["role"]) == ROLE_NAME
    (policy,) = resources["aws_iam_policy"]
    assert hcl_string(policy["description"]) == (
        f"Least privilege for {proposal.principal} (trailmin)"
    )


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_cloudformation_holds_a_hostile_name_literally(path):
    proposal = proposal_for(path)
    (text,) = [t for p, t in render([proposal], "cloudformation").items() if p.endswith(".yaml")]
    template = yaml.safe_load(text)
    assert template["Description"] == (
        f"trailmin: least privilege for {proposal.principal}, from CloudTrail"
    )
    (policy,) = template["Resources"].values()
    assert policy["Properties"]["Roles"] == [ROLE_NAME]
    assert policy["Properties"]["Description"] == (
        f"Least privilege for {proposal.principal} (trailmin)"
    )
