"""Render proposals as files: policy JSON, Terraform or CloudFormation, each with its evidence.

Pure: ``render(proposals, format)`` returns ``{relative path: text}``; writing them is the caller's
business. Every text is deterministic (sorted keys where order is free, stable names), so a proposal
kept under version control shows a clean diff from one run to the next.

Layout, one folder per principal (``<account>-<kind>-<name>``)::

    index.json                      every principal: its policies, or why it has none
    <principal>/index.json          the proposal: documents, evidence, refusals, generalizations,
                                    and ``review``: what to read first (``trailmin.policy.review``)
    <principal>/<policy>.json       json: one file per policy document
    <principal>/main.tf             terraform: aws_iam_policy + attachment, or the permission
                                    set's inline policy
    <principal>/template.yaml       cloudformation: AWS::IAM::ManagedPolicy attached to the role,
                                    user or group

A group's proposal (``trailmin.policy.groups``) has its folder like a principal's
(``<account>-group-<name>``), its policies attached to the group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from trailmin.errors import UsageError
from trailmin.policy.generate import Policy, Proposal, TargetKind
from trailmin.policy.review import proposal_document
from trailmin.text.markdown import visible

FORMATS = ("json", "terraform", "cloudformation")


def render(
    proposals: Sequence[Proposal],
    output: str,
    *,
    unusual: Mapping[str, Iterable[str]] | None = None,
    window: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Return the files of ``proposals`` in ``output`` format, by relative path.

    ``unusual``: the checklist's unusual-activity codes by principal, when it was asked; each
    proposal's index.json then says them (``unusual_activity``) beside its ``review``.
    ``window``: the window the proposals were made from (``Window.to_dict()``), which every
    index.json then states.
    """
    if output not in FORMATS:
        raise UsageError(f"output {output!r} is not one of {', '.join(FORMATS)}")
    index = _index(proposals)
    if window is not None:
        index = {"window": dict(window), **index}
    files: dict[str, str] = {"index.json": _dump(index)}
    for proposal in proposals:
        folder = proposal.slug
        codes = None if unusual is None else unusual.get(proposal.principal, ())
        document = proposal_document(proposal, unusual=codes)
        if window is not None:
            document["window"] = dict(window)
        files[f"{folder}/index.json"] = _dump(document)
        if not proposal.policies:
            continue
        if output == "json":
            for policy in proposal.policies:
                files[f"{folder}/{policy.name}.json"] = policy.to_json()
        elif output == "terraform":
            files[f"{folder}/main.tf"] = terraform(proposal)
        elif proposal.target is not None and proposal.target.kind is TargetKind.PERMISSION_SET:
            # CloudFormation changes only the permission sets its own stack created.
            for policy in proposal.policies:
                files[f"{folder}/{policy.name}.json"] = policy.to_json()
        else:
            files[f"{folder}/template.yaml"] = cloudformation(proposal)
    return files


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def _index(proposals: Sequence[Proposal]) -> dict[str, Any]:
    return {
        "principals": [
            {
                "principal": p.principal,
                "principal_type": p.principal_type,
                "folder": p.slug,
                "target": None if p.target is None else f"{p.target.kind} {p.target.name}",
                "policies": [policy.name for policy in p.policies],
                "statements": sum(len(policy.statements) for policy in p.policies),
                "refused": len(p.refused),
                "generalizations": len(p.generalizations),
                "warnings": list(p.warnings),
                "skipped": p.skipped,
            }
            for p in proposals
        ]
    }


# --- Terraform -----------------------------------------------------------------------------------


def _identifier(text: str) -> str:
    """Return a Terraform identifier (letters, digits, _ and -; not starting with a digit)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", text)
    return name if re.match(r"[A-Za-z_]", name) else f"p_{name}"


def _hcl_string(text: str) -> str:
    """Return ``text`` as an HCL string literal: JSON escapes, template sequences doubled."""
    return json.dumps(text).replace("${", "$${").replace("%{", "%%{")


def _hcl_document(policy: Policy) -> str:
    """Return ``jsonencode(...)`` of the document: JSON is HCL's object syntax too, once its
    template sequences are escaped (spaced as ``terraform fmt`` writes it)."""
    text = json.dumps(policy.document(), indent=2, separators=(",", " : "))
    text = text.replace("${", "$${").replace("%{", "%%{")
    return "jsonencode(" + text.replace("\n", "\n  ") + ")"


_ATTACHMENTS = {
    TargetKind.ROLE: "aws_iam_role_policy_attachment",
    TargetKind.USER: "aws_iam_user_policy_attachment",
    TargetKind.GROUP: "aws_iam_group_policy_attachment",
}
# AWS::IAM::ManagedPolicy's property naming what it is attached to.
_ATTACHED_TO = {TargetKind.ROLE: "Roles", TargetKind.USER: "Users", TargetKind.GROUP: "Groups"}


def terraform(proposal: Proposal) -> str:
    """Return the Terraform configuration of a proposal."""
    target = proposal.target
    assert target is not None
    lines = [
        # A comment ends at the line: a carriage return or a line separator in the ARN would
        # show what follows as code to whoever reads the file, so it is written escaped.
        f"# trailmin: least privilege for {visible(proposal.principal)}",
        f"# From the calls CloudTrail recorded; evidence in index.json. IAM catalog "
        f"{proposal.catalog_version}.",
        "",
    ]
    if target.kind is TargetKind.PERMISSION_SET:
        name = _identifier(target.name.lower())
        (policy,) = proposal.policies[:1]
        lines += [
            'data "aws_ssoadmin_instances" "this" {}',
            "",
            f'data "aws_ssoadmin_permission_set" "{name}" {{',
            "  instance_arn = tolist(data.aws_ssoadmin_instances.this.arns)[0]",
            f"  name         = {_hcl_string(target.name)}",
            "}",
            "",
            f'resource "aws_ssoadmin_permission_set_inline_policy" "{name}" {{',
            "  instance_arn       = tolist(data.aws_ssoadmin_instances.this.arns)[0]",
            f"  permission_set_arn = data.aws_ssoadmin_permission_set.{name}.arn",
            f"  inline_policy = {_hcl_document(policy)}",
            "}",
            "",
        ]
        return "\n".join(lines)
    attachment = _ATTACHMENTS[target.kind]
    description = _hcl_string(f"Least privilege for {proposal.principal} (trailmin)")
    for policy in proposal.policies:
        name = _identifier(policy.name)
        lines += [
            f'resource "aws_iam_policy" "{name}" {{',
            f"  name        = {_hcl_string(policy.name)}",
            f"  description = {description}",
            f"  policy = {_hcl_document(policy)}",
            "}",
            "",
            f'resource "{attachment}" "{name}" {{',
            f"  {target.kind:<10} = {_hcl_string(target.name)}",
            f"  policy_arn = aws_iam_policy.{name}.arn",
            "}",
            "",
        ]
    return "\n".join(lines)


# --- CloudFormation ------------------------------------------------------------------------------


def _logical_id(text: str) -> str:
    """Return a CloudFormation logical id (alphanumeric)."""
    words = re.split(r"[^A-Za-z0-9]+", text)
    return "".join(w[:1].upper() + w[1:] for w in words if w)[:255] or "Policy"


def cloudformation(proposal: Proposal) -> str:
    """Return the CloudFormation template (YAML) of a proposal for a role, a user or a group."""
    target = proposal.target
    assert target is not None
    members = _ATTACHED_TO[target.kind]
    resources = {
        _logical_id(policy.name): {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "ManagedPolicyName": policy.name,
                "Description": f"Least privilege for {proposal.principal} (trailmin)"[:1000],
                members: [target.name],
                "PolicyDocument": policy.document(),
            },
        }
        for policy in proposal.policies
    }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"trailmin: least privilege for {proposal.principal}, from CloudTrail",
        "Resources": resources,
    }
    text: str = yaml.safe_dump(template, sort_keys=False, width=100, allow_unicode=True)
    return text
