"""Groups (issue 18, section 2): users who get permissions from groups keep getting them there.

Built from hand-made authorization values and usage rows; the last test from a tiny lake of
hand-made records and hand-made GetAccountAuthorizationDetails output.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import hcl2
import pytest
import yaml
from cfnlint.api import ManualArgs, lint

import trailmin
from tests.conftest import make_record, role_session, write_delivery
from trailmin.iam.details import parse_authorization_details
from trailmin.policy.evaluate import Decision, Layers, Request, evaluate
from trailmin.policy.generate import MemberUse, Options, Proposal, TargetKind, Used
from trailmin.policy.groups import (
    Group,
    GroupProposals,
    Move,
    Shared,
    User,
    carriers,
    propose_groups,
    replay_split,
)
from trailmin.policy.render import render

A = "arn:aws:iam::111122223333"
T1 = datetime(2026, 10, 1, 9, tzinfo=UTC)
T2 = datetime(2026, 10, 5, 17, tzinfo=UTC)
EXACT = Options(generalize="exact")
QUEUE = "arn:aws:sqs:us-east-1:111122223333:jobs"
TABLE = "arn:aws:dynamodb:us-east-1:111122223333:table/orders"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resources):
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def user(name: str) -> str:
    return f"{A}:user/{name}"


def group(name: str) -> str:
    return f"{A}:group/{name}"


def used(name, action, resource, calls=1, *, first=T1, last=T2, denied=0):
    return Used(user(name), "IAMUser", action, resource, calls + denied, calls, denied, first, last)


DEVS = Group(
    group("devs"),
    (("devs-s3", doc(allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::code/*"))),),
)
READERS = Group(
    group("readers"),
    (("read", doc(allow("s3:GetObject", ["arn:aws:s3:::code/*", "arn:aws:s3:::docs/*"]))),),
)
OPS = Group(group("ops"), (("ops", doc(allow("ec2:DescribeInstances", "*"))),))
AUDITORS = Group(group("auditors"), (("audit", doc(allow("cloudtrail:LookupEvents", "*"))),))
GROUPS = [DEVS, READERS, OPS, AUDITORS]
OWN_DDB = ("arn:aws:iam::111122223333:policy/dave-ddb", doc(allow("dynamodb:GetItem", "*")))
OWN_TRAIL = ("frank-trail", doc(allow("cloudtrail:LookupEvents", "*")))
OWN_SNS = ("erin-sns", doc(allow("sns:Publish", "*")))
USERS = [
    User(user("alice"), (DEVS.arn, READERS.arn)),
    User(user("bob"), (DEVS.arn,)),
    User(user("carol"), (READERS.arn, OPS.arn)),
    User(user("dave"), (), (OWN_DDB,)),  # policies of its own only: a new group
    User(user("erin"), (DEVS.arn,), (OWN_SNS,)),  # unused of its own: detach them
    User(user("frank"), (), (OWN_TRAIL,)),  # does what the auditors do: joins them
    User(user("gina"), (AUDITORS.arn,)),
]
ROWS = [
    used("alice", "s3:GetObject", "arn:aws:s3:::code/a", 2),
    used(
        "alice", "s3:PutObject", "arn:aws:s3:::code/a", 3, first=datetime(2026, 10, 2, tzinfo=UTC)
    ),
    used("alice", "sqs:SendMessage", QUEUE, 1),
    used("alice", "s3:DeleteObject", "arn:aws:s3:::code/a", 0, denied=1),
    used("bob", "s3:GetObject", "arn:aws:s3:::code/b", 5),
    used("carol", "s3:GetObject", "arn:aws:s3:::docs/x", 1),
    used("dave", "dynamodb:GetItem", TABLE, 4),
    used("erin", "s3:GetObject", "arn:aws:s3:::code/e", 1),
    used("frank", "cloudtrail:LookupEvents", "*", 2),
    used("gina", "cloudtrail:LookupEvents", "*", 7),
]


@pytest.fixture(scope="module")
def result() -> GroupProposals:
    return propose_groups(ROWS, USERS, GROUPS, EXACT)


def by(proposals, arn) -> Proposal:
    (found,) = [p for p in proposals if p.principal == arn]
    return found


def grants(proposal: Proposal) -> set[tuple[str, str]]:
    return {
        (a, r)
        for p in proposal.policies
        for s in p.statements
        for a in s.actions
        for r in s.resources
    }


# --- the split -----------------------------------------------------------------------------------


def test_groups_carry_what_they_grant_and_users_keep_only_the_rest(result):
    devs, readers = by(result.groups, DEVS.arn), by(result.groups, READERS.arn)
    assert devs.target is not None
    assert (devs.target.kind, devs.target.name, devs.principal_type) == ("group", "devs", "Group")
    assert [p.name for p in devs.policies] == ["trailmin-group-devs"]
    assert grants(devs) == {
        ("s3:GetObject", "arn:aws:s3:::code/b"),
        ("s3:GetObject", "arn:aws:s3:::code/e"),
        ("s3:PutObject", "arn:aws:s3:::code/a"),
    }
    assert grants(readers) == {
        ("s3:GetObject", "arn:aws:s3:::code/a"),
        ("s3:GetObject", "arn:aws:s3:::docs/x"),
    }
    alice = by(result.users, user("alice"))
    assert grants(alice) == {("sqs:SendMessage", QUEUE)}  # granted by no group of hers
    assert [p.name for p in alice.policies] == ["trailmin-alice"]
    assert "only what its groups (devs, readers) do not grant" in alice.warnings[0]
    assert alice.warnings[1].endswith(f"sqs:SendMessage on {QUEUE}")
    # Her refusal stays with her, not with the group that would grant the bucket.
    assert [(r.action, r.resource) for r in alice.refused] == [
        ("s3:DeleteObject", "arn:aws:s3:::code/a")
    ]
    assert devs.refused == ()
    bob = by(result.users, user("bob"))
    assert bob.policies == ()
    assert bob.skipped == "its groups (devs) carry all it used: nothing is proposed for the user"
    assert result.failures == ()


def test_a_group_grants_nothing_it_does_not_grant_today(result):
    today = {g.arn: g.documents for g in GROUPS}
    for proposal in result.groups:
        if proposal.principal not in today:
            continue  # a new group
        for action, resource in grants(proposal):
            request = Request(action, resource, principal=user("alice"))
            decision = evaluate(request, Layers(identity=today[proposal.principal])).decision
            assert decision is Decision.ALLOW, (proposal.principal, action, resource)


def test_every_call_is_allowed_by_the_user_and_its_groups_together(result):
    documents_of = {p.principal: [d.document() for d in p.policies] for p in result.groups}
    for proposal in result.users:
        documents = [d.document() for d in proposal.policies]
        for arn in result.groups_of[proposal.principal]:
            documents += documents_of[arn]
        for row in ROWS:
            if row.principal == proposal.principal and row.granting:
                request = Request(row.action, row.resource, principal=row.principal)
                decision = evaluate(request, Layers(identity=documents)).decision
                assert decision is Decision.ALLOW, (row.principal, row.action)
        mine = {(r.action, r.resource) for r in ROWS if r.principal == proposal.principal}
        assert proposal.replayed == len(mine) - (proposal.principal == user("alice"))  # refused


def test_a_group_nobody_used_is_a_candidate_for_removal(result):
    ops = by(result.groups, OPS.arn)
    assert ops.policies == ()
    assert ops.skipped == (
        "none of its members (carol) used anything it grants in the window: a candidate for removal"
    )


def test_the_evidence_names_the_members_behind_each_statement(result):
    devs = by(result.groups, DEVS.arn)
    members = {m.action + " " + m.resource: m for e in devs.evidence for m in e.members}
    # Only alice ever wrote to the bucket; bob and erin only read it.
    assert members["s3:PutObject arn:aws:s3:::code/a"] == MemberUse(
        user("alice"),
        "s3:PutObject",
        "arn:aws:s3:::code/a",
        3,
        datetime(2026, 10, 2, tzinfo=UTC),
        T2,
    )
    assert sorted(m.member for m in members.values()) == [user("alice"), user("bob"), user("erin")]
    (evidence,) = [e for e in devs.evidence if any(m.action == "s3:PutObject" for m in e.members)]
    assert evidence.to_dict()["members"] == [
        {
            "member": user("alice"),
            "action": "s3:PutObject",
            "resource": "arn:aws:s3:::code/a",
            "calls": 3,
            "first_seen": "2026-10-02T00:00:00Z",
            "last_seen": "2026-10-05T17:00:00Z",
        }
    ]
    # A user's or role's evidence has no members key: their files do not change.
    assert "members" not in by(result.users, user("alice")).evidence[0].to_dict()


# --- two groups granting the same call -----------------------------------------------------------


def test_a_call_two_groups_grant_is_carried_by_one_and_said(result):
    # alice's read of code/a is granted by devs and readers. readers carries it: devs would give
    # it to bob and erin, who never read code/a; readers only to carol.
    assert result.shared == (
        Shared(
            "s3:GetObject",
            "arn:aws:s3:::code/a",
            (user("alice"),),
            (DEVS.arn, READERS.arn),
            (READERS.arn,),
        ),
    )
    devs = by(result.groups, DEVS.arn)
    assert devs.warnings == (
        "1 permission its members used is also granted by readers, whose proposal carries it: "
        "s3:GetObject on arn:aws:s3:::code/a (used by alice)",
    )
    readers = by(result.groups, READERS.arn)
    assert any(m.member == user("alice") for e in readers.evidence for m in e.members)


P = ("s3:GetObject", "arn:aws:s3:::b/k")


@pytest.mark.parametrize(
    ("granted", "members", "breadth", "expected"),
    [
        pytest.param(
            {"alice": {"A", "B"}},
            {"A": {"alice", "x", "y"}, "B": {"alice", "z"}},
            {},
            {"alice": ("B",)},
            id="the group that gives it to fewer who did not use it",
        ),
        pytest.param(
            {"alice": {"A", "B"}, "bob": {"A"}},
            {"A": {"alice", "bob"}, "B": {"alice"}},
            {},
            {"alice": ("A",), "bob": ("A",)},
            id="the only group granting it to someone carries it for all",
        ),
        pytest.param(
            {"alice": {"A", "B"}, "bob": {"A"}, "carol": {"B"}},
            {"A": {"alice", "bob"}, "B": {"alice", "carol"}},
            {},
            {"alice": ("A", "B"), "bob": ("A",), "carol": ("B",)},
            id="both carry it when each is the only one for someone",
        ),
        pytest.param(
            {"alice": {"A", "B"}, "bob": {"B", "C"}, "carol": {"B", "C"}},
            {"A": {"alice"}, "B": {"alice", "bob", "carol"}, "C": {"bob", "carol"}},
            {},
            {"alice": ("B",), "bob": ("B",), "carol": ("B",)},
            id="the group covering most of them",
        ),
        pytest.param(
            {"alice": {"A", "B"}},
            {"A": {"alice"}, "B": {"alice"}},
            {"A": 40, "B": 3},
            {"alice": ("B",)},
            id="then the narrower group",
        ),
        pytest.param(
            {"alice": {"A", "B"}},
            {"A": {"alice"}, "B": {"alice"}},
            {},
            {"alice": ("A",)},
            id="then by ARN",
        ),
        pytest.param(
            {"alice": set()},
            {"A": {"alice"}},
            {},
            {},
            id="no group grants it: none carries it",
        ),
    ],
)
def test_which_groups_carry_a_call(granted, members, breadth, expected):
    found = carriers(
        {u: {P: frozenset(g)} for u, g in granted.items()},
        members,
        lambda g: breadth.get(g, 0),
    )
    assert found == {(u, P): groups for u, groups in expected.items()}


# --- policies of the user's own (IAM.2) ----------------------------------------------------------


def test_a_user_with_policies_of_its_own_moves_into_a_new_group(result):
    (move,) = [m for m in result.moves if m.user == user("dave")]
    assert move == Move(
        user("dave"),
        (OWN_DDB[0],),
        group("dave-direct"),
        existing=False,
        permissions=(("dynamodb:GetItem", TABLE),),
    )
    new = by(result.groups, group("dave-direct"))
    assert new.target is not None
    assert (new.target.kind, new.target.name) == (TargetKind.GROUP, "dave-direct")
    assert grants(new) == {("dynamodb:GetItem", TABLE)}
    assert new.warnings == (
        "a new group (IAM.2, permissions through groups only): create dave-direct, add dave to "
        f"it, attach this proposal, then detach {OWN_DDB[0]} from dave",
    )
    assert [m.member for e in new.evidence for m in e.members] == [user("dave")]
    dave = by(result.users, user("dave"))
    assert dave.policies == ()
    assert dave.skipped == (
        f"what it used of its own policies ({OWN_DDB[0]}) moves to a new group dave-direct "
        "(IAM.2, permissions through groups only); detach them once it is in dave-direct"
    )
    assert result.groups_of[user("dave")] == (group("dave-direct"),)


def test_a_user_joins_the_existing_group_it_fits(result):
    # frank does what gina, the auditors' only member, does: joining gives him nothing more.
    (move,) = [m for m in result.moves if m.user == user("frank")]
    assert (move.group, move.existing) == (AUDITORS.arn, True)
    auditors = by(result.groups, AUDITORS.arn)
    assert grants(auditors) == {("cloudtrail:LookupEvents", "*")}
    assert sorted(m.member for e in auditors.evidence for m in e.members) == [
        user("frank"),
        user("gina"),
    ]
    assert auditors.warnings == (
        "frank joins this group (IAM.2, permissions through groups only): add frank to it, "
        "attach this proposal, then detach frank-trail from frank",
    )
    assert "joins the existing group auditors" in (by(result.users, user("frank")).skipped or "")
    assert result.groups_of[user("frank")] == (AUDITORS.arn,)


def test_a_group_whose_members_used_more_is_no_fit():
    """Joining a group whose members use what the user does not would give the user more."""
    rows = [*ROWS, used("gina", "cloudtrail:GetTrail", "*", 1)]
    auditors = replace(
        AUDITORS,
        policies=(("audit", doc(allow(["cloudtrail:LookupEvents", "cloudtrail:GetTrail"], "*"))),),
    )
    found = propose_groups(rows, USERS, [DEVS, READERS, OPS, auditors], EXACT)
    (move,) = [m for m in found.moves if m.user == user("frank")]
    assert (move.group, move.existing) == (group("frank-direct"), False)


def test_own_policies_that_granted_nothing_used_are_to_be_detached(result):
    (move,) = [m for m in result.moves if m.user == user("erin")]
    assert move == Move(user("erin"), ("erin-sns",), None, existing=False)
    erin = by(result.users, user("erin"))
    assert erin.policies == ()
    assert erin.skipped == (
        "its groups (devs) carry all it used: its own policies (erin-sns) granted nothing it "
        "needed; detach them (IAM.2)"
    )


def test_a_new_group_name_never_takes_an_existing_one():
    taken = Group(group("dave-direct"), (("x", doc(allow("s3:ListAllMyBuckets", "*"))),))
    found = propose_groups(ROWS, USERS, [*GROUPS, taken], EXACT)
    (move,) = [m for m in found.moves if m.user == user("dave")]
    assert move.group == group("dave-direct-2")


# --- the replay check of the split ---------------------------------------------------------------


def test_the_replay_check_catches_a_statement_removed_by_hand(result):
    devs = by(result.groups, DEVS.arn)
    (policy,) = devs.policies
    narrowed = replace(
        policy, statements=tuple(s for s in policy.statements if "s3:PutObject" not in s.actions)
    )
    edited = replace(
        result,
        groups=tuple(
            replace(p, policies=(narrowed,)) if p.principal == DEVS.arn else p
            for p in result.groups
        ),
    )
    checked = replay_split(edited, ROWS)
    assert checked.failures == (
        (user("alice"), "s3:PutObject", "arn:aws:s3:::code/a", "ImplicitDeny"),
    )
    alice = by(checked.users, user("alice"))
    assert alice.replay_failures == (("s3:PutObject", "arn:aws:s3:::code/a", "ImplicitDeny"),)
    assert alice.policies == ()
    assert alice.skipped == (
        "the replay check failed: its proposal and its groups' (devs, readers) would refuse 1 of "
        "the 3 permissions it used; nothing is proposed for the user"
    )
    # bob and erin read, they never wrote: unharmed.
    assert by(checked.users, user("bob")).replay_failures == ()


# --- who is asked for, and everyone else ---------------------------------------------------------


def test_asking_for_one_user_keeps_the_split_made_from_every_member(result):
    found = propose_groups(ROWS, USERS, GROUPS, EXACT, principals=[user("bob")])
    assert [p.principal for p in found.users] == [user("bob")]
    assert [p.principal for p in found.groups] == [DEVS.arn]
    assert grants(found.groups[0]) == grants(by(result.groups, DEVS.arn))  # alice's, erin's too
    assert found.moves == ()


def test_roles_and_users_the_details_lack_are_proposed_as_generate_does():
    role = f"{A}:role/app"
    rows = [
        Used(role, "Role", "sqs:SendMessage", QUEUE, 1, 1, 0, T1, T2),
        used("zoe", "sqs:SendMessage", QUEUE, 1),
    ]
    found = propose_groups(rows, USERS, GROUPS, EXACT)
    (other,) = found.others
    assert other == trailmin.policy.generate.generate(rows[:1], EXACT)[0]
    zoe = by(found.users, user("zoe"))
    assert grants(zoe) == {("sqs:SendMessage", QUEUE)}
    assert zoe.warnings == (
        "the authorization details do not hold this user: its groups are unknown, so all it "
        "used is proposed for the user",
    )
    assert [p.principal for p in found.proposals] == sorted(
        [role, user("zoe"), *(g.principal for g in found.groups)]
    )
    assert all((g.skipped or "").endswith("a candidate for removal") for g in found.groups)


# --- the files -----------------------------------------------------------------------------------


def test_a_group_proposal_renders_as_json_terraform_and_cloudformation(result):
    proposals = result.proposals
    as_json = render(proposals, "json")
    folder = "111122223333-group-devs"
    document = json.loads(as_json[f"{folder}/trailmin-group-devs.json"])
    assert {s["Action"] for s in document["Statement"]} == {"s3:GetObject", "s3:PutObject"}
    index = json.loads(as_json[f"{folder}/index.json"])
    assert index["target"] == {
        "kind": "group",
        "name": "devs",
        "account": "111122223333",
        "path": "/",
    }
    assert {m["member"] for e in index["evidence"] for m in e["members"]} == {
        user("alice"),
        user("bob"),
        user("erin"),
    }
    listed = {p["folder"]: p for p in json.loads(as_json["index.json"])["principals"]}
    assert listed["111122223333-group-ops"]["skipped"].endswith("a candidate for removal")
    assert listed["111122223333-user-bob"]["policies"] == []

    tf = render(proposals, "terraform")[f"{folder}/main.tf"]
    resources = {  # python-hcl2 keeps the quotes of labels and strings
        kind.strip('"'): body
        for block in hcl2.loads(tf)["resource"]
        for kind, labelled in block.items()
        for body in labelled.values()
    }
    assert set(resources) == {"aws_iam_policy", "aws_iam_group_policy_attachment"}
    assert resources["aws_iam_group_policy_attachment"]["group"].strip('"') == "devs"
    assert '  group      = "devs"\n  policy_arn = aws_iam_policy.trailmin-group-devs.arn' in tf

    cfn = render(proposals, "cloudformation")
    template = yaml.safe_load(cfn[f"{folder}/template.yaml"])
    (resource,) = template["Resources"].values()
    assert resource["Properties"]["Groups"] == ["devs"]
    assert "Users" not in resource["Properties"]
    for path, text in cfn.items():
        if path.endswith(".yaml"):
            assert [str(m) for m in lint(text, config=ManualArgs(regions=["us-east-1"]))] == []


def test_the_result_as_json_values(result):
    found = result.to_dict()
    assert [g["principal"] for g in found["groups"]] == sorted(
        [DEVS.arn, READERS.arn, OPS.arn, AUDITORS.arn, group("dave-direct")]
    )
    assert found["shared"][0]["carried_by"] == [READERS.arn]
    assert {m["user"]: m["group"] for m in found["moves"]} == {
        user("dave"): group("dave-direct"),
        user("erin"): None,
        user("frank"): AUDITORS.arn,
    }
    assert found["failures"] == []
    json.dumps(found)


# --- from a lake ---------------------------------------------------------------------------------


def _identity(name: str, user_id: str) -> dict[str, object]:
    return {
        "type": "IAMUser",
        "principalId": user_id,
        "arn": user(name),
        "accountId": "111122223333",
        "accessKeyId": f"AKIA{user_id}",
        "userName": name,
    }


def test_group_proposals_from_a_lake_and_saved_details(tmp_path):
    ec2 = {"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances"}
    records = [
        make_record(1, userIdentity=_identity("alice", "AIDAALICE")),  # s3 ListBuckets
        make_record(2, **ec2, userIdentity=_identity("alice", "AIDAALICE")),
        make_record(3, **ec2, userIdentity=_identity("bob", "AIDABOB")),
        make_record(4, **ec2, userIdentity=role_session(f"{A}:role/app", "AROAAPP")),
    ]
    write_delivery(tmp_path / "trail" / "t.json.gz", records)
    lake = tmp_path / "lake"
    trailmin.ingest([tmp_path / "trail"], lake=lake, workers=1)
    details = parse_authorization_details(
        {
            "UserDetailList": [
                {
                    "UserName": "alice",
                    "UserId": "AIDAALICE",
                    "Arn": user("alice"),
                    "Path": "/",
                    "GroupList": ["devs"],
                },
                {
                    "UserName": "bob",
                    "UserId": "AIDABOB",
                    "Arn": user("bob"),
                    "Path": "/",
                    "UserPolicyList": [
                        {
                            "PolicyName": "bob-ec2",
                            "PolicyDocument": doc(allow("ec2:Describe*", "*")),
                        }
                    ],
                },
            ],
            "GroupDetailList": [
                {
                    "GroupName": "devs",
                    "Arn": group("devs"),
                    "Path": "/",
                    "GroupPolicyList": [
                        {
                            "PolicyName": "devs-s3",
                            "PolicyDocument": doc(allow("s3:ListAllMyBuckets", "*")),
                        }
                    ],
                }
            ],
            "RoleDetailList": [],
            "Policies": [],
        }
    )
    found = trailmin.group_proposals(lake, details)
    assert isinstance(found, trailmin.GroupProposals)
    assert grants(by(found.groups, group("devs"))) == {("s3:ListAllMyBuckets", "*")}
    assert grants(by(found.users, user("alice"))) == {("ec2:DescribeInstances", "*")}
    assert grants(by(found.groups, group("bob-direct"))) == {("ec2:DescribeInstances", "*")}
    assert [(m.user, m.group) for m in found.moves] == [(user("bob"), group("bob-direct"))]
    (role,) = found.others
    assert role.to_dict() == trailmin.generate(lake, principals=[f"{A}:role/app"])[0].to_dict()
    assert found.failures == ()
    written = trailmin.write_proposals(found.proposals, tmp_path / "out", "terraform")
    names = {str(p.relative_to(tmp_path / "out")) for p in written}
    assert "111122223333-group-devs/main.tf" in names
    assert "111122223333-group-bob-direct/main.tf" in names
    assert "111122223333-user-alice/main.tf" in names
    assert "111122223333-user-bob/main.tf" not in names  # all it used moved to bob-direct


def test_a_groups_arn_comes_from_its_entry_with_its_path(tmp_path):
    """A group under a path: its proposal names the ARN GroupDetailList gives, path and all,
    not one made from its name."""
    ec2 = {"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances"}
    write_delivery(
        tmp_path / "trail" / "t.json.gz",
        [make_record(1, **ec2, userIdentity=_identity("alice", "AIDAALICE"))],
    )
    lake = tmp_path / "lake"
    trailmin.ingest([tmp_path / "trail"], lake=lake, workers=1)
    teams = f"{A}:group/teams/platform/devs"
    details = parse_authorization_details(
        {
            "UserDetailList": [
                {
                    "UserName": "alice",
                    "UserId": "AIDAALICE",
                    "Arn": user("alice"),
                    "Path": "/",
                    "GroupList": ["devs"],
                }
            ],
            "GroupDetailList": [
                {
                    "GroupName": "devs",
                    "Arn": teams,
                    "Path": "/teams/platform/",
                    "GroupPolicyList": [
                        {"PolicyName": "ec2", "PolicyDocument": doc(allow("ec2:Describe*", "*"))}
                    ],
                }
            ],
        }
    )
    found = trailmin.group_proposals(lake, details)
    assert [g.principal for g in found.groups] == [teams]
    assert grants(by(found.groups, teams)) == {("ec2:DescribeInstances", "*")}
