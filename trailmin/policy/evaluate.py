"""The IAM policy evaluator: does this set of policies allow this request, as AWS decides it?

Pure, and written to the numbered spec in ``../shared/reference/iam-evaluation.md`` (section 2);
comments cite its rules (R2.4, R6.1, …). Three-valued throughout (R6.6): a condition on a key the
request cannot tell or an unknown operator (R1.5) is *unknown* (``None``), combined with Kleene
logic (a multi-valued key under a plain operator: R6.3 below). The caller chooses how unknowns
end (R9): ``THREE_VALUED`` reports them as an ``Unknown`` decision with the pairs involved,
``OPTIMISTIC`` takes what could ever be allowed (granted-but-unused), ``PESSIMISTIC`` what is
allowed whatever the unknowns (the replay check of generated policies).

    result = evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k"), Layers(identity=[doc]))
    result.decision  # Decision.ALLOW, EXPLICIT_DENY, IMPLICIT_DENY or UNKNOWN
    evaluate_trust(Request("sts:AssumeRole", role, service="lambda.amazonaws.com"), trust)

Where the spec is silent or loose, this module follows AWS's documentation to the letter (issue
15); the rules are numbered on from the spec's and cited where they are applied:

* **R3.9** Policy variables only after the fifth colon. "You can use a policy variable in the
  ``Resource`` element, but only in the resource portion of the ARN. This portion of the ARN
  appears after the fifth colon (:). You can't use a variable to replace parts of the ARN before
  the fifth colon, such as the service or account." (IAM User Guide, "IAM policy elements:
  Variables and tags", Resource element). A ``${...}`` in the partition, service, region or
  account of a Resource/NotResource pattern is text, not substituted; the five colons are counted
  outside ``${...}``. This narrows R3.3 and R5.1 for Resource; condition values (ArnLike …) keep
  R5.
* **R6.3** A plain operator on a key with several values (or none): a *positive* operator is
  **false**. AWS documents only that "Multivalued context keys require a condition set operator"
  ("Single-valued vs. multivalued context keys"); the result was measured by others: a plain
  ``StringEquals`` on ``aws:CalledVia`` with two services in the chain denied a call that
  ``ForAnyValue:StringEquals`` allowed ("the bare operator … matches nothing once the request
  carries more than one service in the chain", boogy/iam-policy-validator#161), which is also
  iam-simulate's rule and the reference case ``multivalued-key-without-set-operator``. A *negated*
  operator on such a key has no measurement and no documentation: it stays **unknown** (R1.5:
  do not guess; a true there would grant on a guess).
* **R8.5** Principals in resource policies (IAM User Guide, "AWS JSON policy elements:
  Principal"). ``"*"`` and ``{"AWS": "*"}`` name everyone. An account (``"123456789012"`` or
  ``arn:aws:iam::123456789012:root``) "delegates authority to the account": it grants no one
  directly; the account's IAM policies must allow. A role ARN names the role's sessions: "When
  they use those session credentials to perform operations in AWS, they become a role session
  principal", and the session ARN ``arn:aws:sts::ACCT:assumed-role/NAME/SESSION`` drops the
  role's path (role names are unique in an account, so the account and the name identify the
  role). An IAM user ARN names the user and the user's federated sessions
  (``GetFederationToken``). A session ARN (assumed-role or federated-user) names that session
  only. A request says who calls with ``principal`` (the user, role or session ARN) and, when the
  principal is a user or role acting through a session, ``session`` (the session's ARN). A role
  given without its session is a session whose name is unknown: a policy naming some session of
  that role applies or not depending on it (unknown, reported as ``("Principal", "aws:userid")``,
  the key that carries the session name).
* **R8.6** ``NotPrincipal`` ("AWS JSON policy elements: NotPrincipal"). With Deny: "the actions
  specified in the policy statement are explicitly denied to all principals except for the ones
  specified", and a caller is spared only when every principal AWS validates for it is listed:
  "you must also specify the account ARN of the not-denied principal. Otherwise, the policy might
  deny access to the entire account containing the principal … If an assumed-role user … is being
  evaluated, AWS might validate the account first, then the role, and then the assumed-role user"
  (so a user needs its account and its ARN listed; a role session its account, the role and the
  session; a federated user its account and the federated-user ARN). And: "The NotPrincipal
  element with a Deny effect will always deny any IAM principal that has a permissions boundary
  policy attached, regardless of the values specified in the NotPrincipal element." With Allow:
  "NotPrincipal must be used with "Effect":"Deny". Using it with "Effect":"Allow" is not
  supported." Such a statement grants nothing to a principal it lists, and is unknown for the
  others (R1.5), reported as ``("NotPrincipal", "Allow")``.
* **R8.7** What a same-account resource-policy Allow stands in for ("How AWS enforcement code
  logic evaluates requests to allow or deny access", resource-based policies; "Permissions
  boundaries for IAM entities"; "Session policies"). "If a resource-based policy grants
  permission directly to the IAM user or the session principal that is making the request, then
  an implicit deny in an identity-based policy, a permissions boundary, or a session policy does
  not impact the final decision." But "Resource-based policies that grant permissions to an IAM
  role ARN are limited by an implicit deny in a permissions boundary or session policy", and "if
  a resource-based policy grants permission to the ARN of the IAM user who federated, then
  requests made by the federated user during the session are limited by an implicit deny in a
  permission boundary or session policy". ``"*"`` grants directly: "Permissions boundaries and
  session policies do not limit permissions granted using the aws:PrincipalArn condition key
  with a wildcard(*) in the Principal element". Cross-account none of these stand in: both the
  caller's side (identity, boundary, session policy, SCPs) and the resource policy must allow.
* **R8.8** KMS ("Key policies in AWS KMS"; "Allowing users in other accounts to use a KMS
  key"). Within the key's account, IAM policies count only when the key policy enables the
  account (its root principal; R8.4). A caller in another account needs the key policy to allow
  its account or itself ("the key policy for the KMS key must give the external account (or users
  and roles in the external account) permission to use the KMS key") and its own account's IAM
  policies to allow ("IAM policies in the external account must delegate the key policy
  permissions to its users and roles"); the key account's own root statement is about the key
  account's principals and is not needed for it. Cross-account use is limited to the operations
  the same page lists: "Cross-account permission is effective only for the following operations:"
  the cryptographic operations, CreateGrant, DescribeKey, GetKeyRotationStatus, GetPublicKey,
  ListGrants, RetireGrant and RevokeGrant; for any other ("kms:ScheduleKeyDeletion … the user's
  attempts to call those operations on your resources still fail") it is an implicit deny.
* **R8.9** The root user ("How AWS enforcement code logic evaluates requests to allow or deny
  access": "all requests are implicitly denied with the exception of the AWS account root user,
  which has full access"): its own account's identity side allows without a policy; explicit
  denies, SCPs, a resource's own policy across accounts and a KMS key policy still decide.
* **R8.10** A service-linked role's session (``assumed-role/AWSServiceRoleFor…``, as CloudTrail
  records it) is exempt from SCPs like the role (Organizations User Guide, SCPs: "SCPs don't
  affect service-linked roles").
* **R8.11** Service principals ("AWS JSON policy elements: Principal", AWS service principals).
  "A *service principal* is an identifier for a service"; several go in "an array of multiple
  service principals as the value of a single ``Service`` element". A request says which service
  calls with ``service``, as CloudTrail records it (``invokedBy``), and a ``Service`` value names
  it when it is that name: "You cannot use a wildcard to match part of a principal name or ARN",
  and a regional form is another name ("When an AWS service in an opt-in Region makes a
  cross-region request to another Region, the service principal name format is identified as
  the regionalized version … ``service-name.{region}.amazonaws.com`` … Resource policies or
  service principal-based allow-lists for cross-Region requests from an opt-in Region to another
  Region will only be successful if you specify the regionalized service principal name").
  "The service principal in an IAM policy can't be ``"Service": "*"``": a policy IAM refuses,
  unknown for a calling service (R1.5). ``"*"`` names a service ("You can use a wildcard (*) to
  specify all principals", and the page lists "AWS services" among the principals), but
  ``{"AWS": "*"}`` is documented equal to it only "For anonymous users": unknown for a service.
  The page does not say whether service names compare with or without case, nor whether a China
  form (``service.amazonaws.com.cn``) is the same principal as ``service.amazonaws.com``: a value
  differing from the caller's only so is unknown. Unknown namings are reported as
  ``("Principal", "Service")``.
* **R8.12** Federated principals (same page, OIDC and SAML federated principals). An OIDC
  federated principal "can represent an OIDC IDP in your AWS account, or the 4 built in identity
  providers": ``{"Federated": "cognito-identity.amazonaws.com"}`` (also ``www.amazon.com``,
  ``graph.facebook.com``, ``accounts.google.com``) or the provider's ARN
  ``arn:aws:iam::ACCT:oidc-provider/HOST``; a SAML one is named
  ``arn:aws:iam::ACCT:saml-provider/NAME``. A request says which provider its caller signed in
  with in ``federated``, and a ``Federated`` value names the caller when it is that provider. An
  Allow must name the provider (STS API Reference, AssumeRoleWithWebIdentity: "The role that your
  application assumes must trust the identity provider that is associated with the identity
  token. In other words, the identity provider must be specified in the role's trust policy";
  AssumeRoleWithSAML: "create an IAM role that specifies this SAML provider in its trust
  policy"), so whether ``"*"`` or ``{"AWS": "*"}`` lets one in is unknown; a Deny with ``"*"``
  applies to it ("all principals"). The docs do not say whether a provider's ARN compares with or
  without case, nor whether an IAM OIDC provider's ARN and its bare host name the same provider:
  unknown, reported as ``("Principal", "Federated")``.
* **R8.13** What a trust-policy Allow stands in for (R8.7). Same account: "You can do either
  because the role's trust policy acts as an IAM resource-based policy. When a resource-based
  policy grants access to a principal in the same account, no additional identity-based policy
  is required" (STS API Reference, AssumeRole). A federated caller has no AWS identity of its
  own: "Calling AssumeRoleWithWebIdentity does not require the use of AWS security credentials";
  "Calling AssumeRoleWithSAML does not require the use of AWS security credentials. The identity
  of the caller is validated by using keys in the metadata document that is uploaded for the
  SAML provider entity for your identity provider": an Allow naming its provider stands in for
  the identity side, as naming the caller directly does. For a service no page was found that
  says what besides the trust policy decides its call: what the Allow stands in for is unknown
  (``evaluate`` reports ``("Service", "identity")``), and ``evaluate_trust`` gives the trust
  policy's own decision.
* **R8.14** The actions a role's trust policy must allow, whatever the identity policies say:
  ``sts:AssumeRole*`` (R8.4); ``sts:TagSession`` ("Passing session tags in AWS STS": "This action
  must be allowed before the user can pass session tags. If your policy includes the first
  statement without the second statement, the user can't assume the role", of a role trust
  policy); ``sts:SetSourceIdentity`` ("Monitor and control actions taken with assumed roles":
  "Trust policies for all roles connected to an identity provider (IdP) must have the
  ``sts:SetSourceIdentity`` permission. For roles that don't have this permission in the role
  trust policy, the ``AssumeRole*`` operation will fail", and with role chaining "permissions
  for ``sts:SetSourceIdentity`` are required in both the permissions policy of the principal who
  is assuming the role and in the role trust policy of the target role"; the page says nothing
  narrower for users). ``evaluate_trust`` gives the trust policy's decision alone: naming the
  caller's account allows at the account's level ("This delegates authority to the account",
  R8.5), which each ``Match.named`` says. Its conditions are the ordinary ones (R6), keys in any
  case whatever their prefix (R1.4; "Condition key names are not case-sensitive", IAM User
  Guide, "IAM JSON policy elements: Condition"): ``sts:ExternalId``,
  ``token.actions.githubusercontent.com:sub``, ``SAML:aud`` alike.
* **R8.15** The caller's side alone (``Layers.caller_side_only``). Cross-account, "both the
  identity and the resource policy" must allow (R8, the spec's cross-account rule); a replay of a
  principal's identity policies against its recorded calls checks the first of the two: the call
  to another account's resource passed, so the resource's side allowed it. With
  ``caller_side_only`` and no ``resource`` layer, the missing resource policy is not counted
  against a cross-account request; every other layer (boundary, session policy, SCPs, RCPs, the
  KMS cross-account operations of R8.8) still decides.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from trailmin.aws import roles
from trailmin.aws.arns import account_of

Truth = bool | None  # None: unknown


class Mode(StrEnum):
    """How an unknown condition is taken (the module docstring says when each is used)."""

    THREE_VALUED = "three-valued"
    OPTIMISTIC = "optimistic"
    PESSIMISTIC = "pessimistic"


THREE_VALUED, OPTIMISTIC, PESSIMISTIC = Mode.THREE_VALUED, Mode.OPTIMISTIC, Mode.PESSIMISTIC
MODES = tuple(Mode)


class Decision(StrEnum):
    """What AWS would decide."""

    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class Request:
    """An API request as IAM authorizes it.

    ``resource`` is an ARN, or ``*`` for an action with no resource type. ``context`` maps
    condition keys (any case) to a string or a list of strings; a key not in it is absent.
    ``unknown_keys`` are keys the request cannot tell (a CloudTrail record does not carry every
    key): a condition on one of them is unknown, not false.

    ``principal`` is the caller's ARN: an IAM user or role, or a session (an assumed-role or
    federated-user ARN). ``session`` is the session's ARN when ``principal`` names the user or
    role that acts through it (R8.5): a resource policy naming the role or the user and one
    naming the session do not grant alike (R8.7). ``service`` is the AWS service that calls, as
    CloudTrail records it in ``invokedBy`` (``lambda.amazonaws.com``, R8.11); ``federated`` the
    identity provider a web-identity or SAML caller signed in with: an IAM OIDC or SAML
    provider's ARN, or a built-in provider's name (``accounts.google.com``, R8.12). When either
    is set, ``principal`` is normally None.
    """

    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    principal: str | None = None
    unknown_keys: frozenset[str] = frozenset()
    resource_account: str | None = None  # when the ARN does not say (S3)
    management_account: bool = False  # SCPs do not apply to it (R8.2)
    session: str | None = None  # after the others, so that positional callers keep working
    service: str | None = None  # R8.11
    federated: str | None = None  # R8.12


@dataclass(frozen=True, slots=True)
class Layers:
    """The policies that decide a request, by type (R8).

    ``identity``: the principal's identity policies (the user's with its groups', or the role's).
    ``boundaries``: the permissions boundary, when one is attached. ``session``: a session policy.
    ``scps`` and ``rcps``: one list of policies per level of the organization (root, each OU, the
    account), every level of which must allow. ``resource``: the resource's policy (None: it has
    none, so a cross-account request is refused).

    ``caller_side_only``: decide the caller's side alone (R8.15). A replay of identity policies
    against calls that happened checks what the caller's account grants; a call to another
    account's resource happened, so that account's policy allowed it, and it is not what is
    being checked: with no ``resource`` given, a cross-account request is then not refused for
    the want of one.
    """

    identity: Sequence[Mapping[str, Any]] = ()
    boundaries: Sequence[Mapping[str, Any]] | None = None
    session: Mapping[str, Any] | None = None
    scps: Sequence[Sequence[Mapping[str, Any]]] = ()
    rcps: Sequence[Sequence[Mapping[str, Any]]] = ()
    resource: Mapping[str, Any] | None = None
    caller_side_only: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    """A statement that applied to the request: where it is and its effect.

    ``named`` says, for a resource or trust policy's statement, how its principal names the
    caller: ``account`` (its account: that delegates to the account's IAM policies, R8.5),
    ``entity`` (its role, or the user of a federated session), ``direct`` (itself, or ``*``),
    ``service`` or ``federated`` (a service or a federated caller, by its name, its provider's
    or ``*``: R8.11-R8.13).
    """

    layer: str  # identity, boundary, session, scp[i], rcp[i], resource, trust
    policy: int  # index of the policy in its layer
    statement: int  # index of the statement in its policy
    sid: str | None
    effect: str
    value: Truth  # True: applies; None: applies or not depending on unknowns
    named: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """The decision, the statements that made it, and the unknown (operator, key) pairs."""

    decision: Decision
    statements: tuple[Match, ...] = ()
    unknown: frozenset[tuple[str, str]] = frozenset()


# --- Kleene logic (R6.6) ------------------------------------------------------------------------


def _and(values: Iterator[Truth] | Sequence[Truth]) -> Truth:
    unknown = False
    for value in values:
        if value is False:
            return False
        if value is None:
            unknown = True
    return None if unknown else True


def _or(values: Iterator[Truth] | Sequence[Truth]) -> Truth:
    unknown = False
    for value in values:
        if value is True:
            return True
        if value is None:
            unknown = True
    return None if unknown else False


def _not(value: Truth) -> Truth:
    return None if value is None else not value


# --- globs (R4) and variables (R5) ---------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^(?P<key>[^,]+?),\s*'(?P<default>[^']*)'$")


class _Unresolvable(Exception):
    """A policy variable with no value and no default (R5.2): the entry matches nothing."""


class _Unknowable(Exception):
    """A policy variable on a key the request cannot tell: the match is unknown."""


def _values_of(context: Mapping[str, Any], key: str) -> list[str] | None:
    """Return the request's values of ``key`` (case-insensitive, R1.4), or None when absent."""
    value = context.get(key.lower())
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    return [_text(value)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pieces(text: str, request: _Context, variables: bool) -> list[tuple[str, str]]:
    """Return ``text`` as ("lit", s) and ("glob", "*"/"?") pieces, variables resolved (R5).

    A substituted value is literal (R5.4): its ``*`` and ``?`` are not wildcards; nor are those
    written ``${*}``, ``${?}`` (R5.3).
    """
    pieces: list[tuple[str, str]] = []
    position = 0
    for match in _VARIABLE.finditer(text) if variables else ():
        pieces.extend(_globs(text[position : match.start()]))
        pieces.append(("lit", _resolve(match.group(1), request)))
        position = match.end()
    pieces.extend(_globs(text[position:]))
    return pieces


def _globs(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    literal: list[str] = []
    for char in text:
        if char in "*?":
            if literal:
                found.append(("lit", "".join(literal)))
                literal = []
            found.append(("glob", char))
        else:
            literal.append(char)
    if literal:
        found.append(("lit", "".join(literal)))
    return found


def _resolve(inside: str, request: _Context) -> str:
    if inside in {"*", "?", "$"}:
        return inside  # R5.3: the character itself, not a wildcard
    default = _DEFAULT.match(inside)
    key = (default.group("key") if default else inside).strip()
    if key.lower() in request.unknown:
        raise _Unknowable(key)
    values = _values_of(request.values, key)
    if values is not None and len(values) == 1:
        return values[0]
    if default is not None:
        return default.group("default")
    raise _Unresolvable(key)


def _regex(pieces: list[tuple[str, str]], *, colon_free: bool = False) -> str:
    """R4: character by character, never by replacement on an unescaped string."""
    out = []
    for kind, text in pieces:
        if kind == "lit":
            out.append(re.escape(text))
        elif text == "*":
            out.append("[^:]*" if colon_free else ".*")
        else:
            out.append("[^:]" if colon_free else ".")
    return "".join(out)


@functools.lru_cache(maxsize=8192)
def _compiled(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.DOTALL)


def _glob_match(pieces: list[tuple[str, str]], value: str, *, ignore_case: bool) -> bool:
    flags = re.IGNORECASE if ignore_case else 0
    return _compiled(_regex(pieces), flags).fullmatch(value) is not None


def _literal(text: str, request: _Context, variables: bool) -> str:
    """Return ``text`` with its variables substituted, for the operators that do not glob."""
    if not variables:
        return text
    return "".join(t for _, t in _pieces(text, request, True))


# --- the request as the matchers see it ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    values: Mapping[str, Any]  # lower-cased keys
    unknown: frozenset[str]  # lower-cased keys


def _context(request: Request) -> _Context:
    values = {k.lower(): v for k, v in request.context.items()}
    return _Context(values, frozenset(k.lower() for k in request.unknown_keys))


# --- R2 actions ----------------------------------------------------------------------------------


def match_action(pattern: str, action: str) -> bool:
    """R2: whether an Action pattern matches ``action``."""
    if pattern == "*":
        return True
    if ":" not in pattern or ":" not in action:
        return False
    return _action_regex(pattern).fullmatch(action) is not None


@functools.lru_cache(maxsize=65536)
def _action_regex(pattern: str) -> re.Pattern[str]:
    """R2.3-4: the service and the name globbed apart, case-insensitively (the colon is the
    first one of the pattern, and a name glob may not reach back into the service)."""
    service, name = pattern.split(":", 1)
    regex = _regex(_globs(service), colon_free=True) + ":" + _regex(_globs(name))
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


# --- R3 resources --------------------------------------------------------------------------------


def match_resource(
    pattern: str, resource: str, request: _Context, *, variables: bool, layer: str = "identity"
) -> Truth:
    """R3: whether a Resource pattern matches ``resource``; None when a variable is unknowable."""
    if pattern == "*":
        return True  # R3.1
    if resource == "*":
        return False  # R3.2
    variables = variables and "${" in pattern
    parts = list(_arn_parts(pattern)) if variables else pattern.split(":", 5)
    if len(parts) < 6:
        # R3.4: a short pattern is padded with "*" in identity, boundary and session policies.
        if layer.startswith("rcp"):
            return False
        if layer.startswith("scp") and not pattern.endswith("*"):
            return False
        if layer == "resource" and "*" not in pattern:
            return False
        parts = parts + ["*"] * (6 - len(parts))
    target = resource.split(":", 5)
    if len(target) < 6:
        return False
    if not variables:
        if not any("*" in part or "?" in part for part in parts):
            # A plain ARN: no regex to build (R3.5 head without case, R3.6 rest with it).
            return ":".join(parts[:5]).lower() == ":".join(target[:5]).lower() and (
                parts[5] == target[5]
            )
        head, rest = _resource_regexes(tuple(parts))
        return (
            head.fullmatch(":".join(target[:5])) is not None
            and rest.fullmatch(target[5]) is not None
        )
    # R3.9: the head (partition, service, region, account) is globbed as text, its ${...} not
    # substituted; only the resource part after the fifth colon has variables (R3.3, R5).
    head, _ = _resource_regexes((*parts[:5], ""))
    if head.fullmatch(":".join(target[:5])) is None:
        return False  # R3.5
    try:
        resolved = _pieces(parts[5], request, True)
    except _Unresolvable:
        return False  # R3.3
    except _Unknowable:
        return None
    return _glob_match(resolved, target[5], ignore_case=False)  # R3.6


@functools.lru_cache(maxsize=8192)
def _arn_parts(pattern: str) -> tuple[str, ...]:
    """R3.9: ``pattern`` split at its first five colons that are outside ``${...}`` (a variable
    such as ``${aws:username}`` holds a colon of its own)."""
    parts: list[str] = []
    start = index = 0
    while index < len(pattern) and len(parts) < 5:
        if pattern.startswith("${", index):
            end = pattern.find("}", index)
            if end < 0:
                break
            index = end + 1
            continue
        if pattern[index] == ":":
            parts.append(pattern[start:index])
            start = index + 1
        index += 1
    parts.append(pattern[start:])
    return tuple(parts)


def _split_pieces(pieces: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Return pieces split at the first five colons of their literal text."""
    segments: list[list[tuple[str, str]]] = [[]]
    for kind, text in pieces:
        if kind != "lit":
            segments[-1].append((kind, text))
            continue
        rest = text
        while ":" in rest and len(segments) < 6:
            head, rest = rest.split(":", 1)
            if head:
                segments[-1].append(("lit", head))
            segments.append([])
        if rest:
            segments[-1].append(("lit", rest))
    return segments


@functools.lru_cache(maxsize=65536)
def _resource_regexes(parts: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """R3.5-6 for a pattern without variables: the first five segments, colon-free and
    case-insensitive, and the rest, case-sensitive."""
    head = ":".join(_regex(_globs(part), colon_free=True) for part in parts[:5])
    rest = _regex(_globs(parts[5]))
    return (
        re.compile(head, re.IGNORECASE | re.DOTALL),
        re.compile(rest, re.DOTALL),
    )


def pattern_matches(pattern: str, resource: str) -> bool:
    """Return whether a Resource pattern of an identity policy (Version 2012-10-17) matches
    ``resource``, with no request context: variables other than ``${*}``, ``${?}`` and ``${$}``
    match nothing."""
    return match_resource(pattern, resource, _Context({}, frozenset()), variables=True) is True


def _match_arn(pattern: str, value: str, request: _Context, variables: bool) -> bool:
    """ArnLike/ArnEquals (R6.5): per-segment glob, as R3 steps 4-6."""
    target = value.split(":", 5)
    if len(target) < 6:
        return False
    segments = _split_pieces(_pieces(pattern, request, variables))  # R5 before R3.4
    if len(segments) < 6:
        segments += [[("glob", "*")]] * (6 - len(segments))
    for index in range(6):
        regex = _regex(segments[index], colon_free=index < 5)
        if _compiled(regex, 0).fullmatch(target[index]) is None:
            return False
    return True


# --- R6 conditions -------------------------------------------------------------------------------

_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
_POSITIVE = {
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "NumericEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "ArnEquals",
    "ArnLike",
}
# R5.5: policy variables are substituted only in these operators' values.
_VARIABLE_OPERATORS = {"String", "Arn", "Bool"}


def _value_matches(
    operator: str, policy_value: str, value: str, request: _Context, vars_on: bool
) -> bool:
    """Return whether one request value satisfies a positive operator against one policy value."""
    family = next(
        (
            f
            for f in ("String", "Numeric", "Date", "Bool", "Binary", "Ip", "Arn")
            if operator.startswith(f)
        ),
        "",
    )
    variables = vars_on and family in _VARIABLE_OPERATORS
    try:
        if operator == "StringEquals":
            return _literal(policy_value, request, variables) == value
        if operator == "StringEqualsIgnoreCase":
            return _literal(policy_value, request, variables).lower() == value.lower()
        if operator == "StringLike":
            return _glob_match(_pieces(policy_value, request, variables), value, ignore_case=False)
        if family == "Numeric":
            return _compare(operator[len("Numeric") :], _number(policy_value), _number(value))
        if family == "Date":
            return _compare(operator[len("Date") :], _instant(policy_value), _instant(value))
        if operator == "Bool":
            expected = _literal(policy_value, request, variables).lower()
            return expected in {"true", "false"} and value.lower() == expected
        if operator == "BinaryEquals":
            return base64.b64decode(policy_value, validate=True) == base64.b64decode(
                value, validate=True
            )
        if operator == "IpAddress":
            return ipaddress.ip_address(value) in ipaddress.ip_network(policy_value, strict=False)
        if operator in {"ArnEquals", "ArnLike"}:
            return _match_arn(policy_value, value, request, variables)
    except _Unresolvable:
        return False  # R5.2: that value matches nothing
    except (ValueError, InvalidOperation, binascii.Error, TypeError):
        return False  # R6.5: a value that fails to parse
    return False


def _compare(how: str, policy: Any, value: Any) -> bool:
    if policy is None or value is None:
        return False
    if how == "Equals":
        return bool(value == policy)
    if how == "LessThan":
        return bool(value < policy)
    if how == "LessThanEquals":
        return bool(value <= policy)
    if how == "GreaterThan":
        return bool(value > policy)
    if how == "GreaterThanEquals":
        return bool(value >= policy)
    return False


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _instant(text: str) -> datetime | None:
    """R6.5: ISO 8601 (W3C profiles) or epoch seconds; UTC when no zone is given."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None  # R6.5: a value that does not parse
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _condition_pair(
    operator_text: str, key: str, policy_values: list[str], request: _Context, vars_on: bool
) -> Truth:
    """R6: one (operator, key) pair of a Condition block."""
    if key.lower() in request.unknown:
        return None  # R6.6
    operator = operator_text
    quantifier = ""
    for prefix in ("ForAllValues:", "ForAnyValue:"):
        if operator.startswith(prefix):
            quantifier, operator = prefix[:-1], operator[len(prefix) :]
            break
    if operator.startswith(("ForAllValues:", "ForAnyValue:")) or operator == "NullIfExists":
        return None  # R1.5: not an operator (one set prefix at most; Null has no IfExists)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)
    if operator != "Null" and base not in _POSITIVE:
        return None  # R1.5: an unknown operator is unknown, never false
    values = _values_of(request.values, key)
    if operator == "Null":
        if quantifier:
            return None
        absent = values is None or values == []
        wanted = [v.lower() for v in policy_values]
        return ("true" in wanted and absent) or ("false" in wanted and not absent)
    if values is None or (quantifier and values == []):
        # R6.1: the key is absent, in the order the spec lists the cases.
        if if_exists or quantifier == "ForAllValues":
            return True
        if quantifier == "ForAnyValue":
            return False
        return negated
    if not quantifier:
        if len(values) != 1:
            # R6.3 (module docstring): a positive operator matches nothing, as measured; a
            # negated one is not documented nor measured, so unknown.
            return None if negated else False
        return _single(base, negated, policy_values, values[0], request, vars_on)
    results = [_single(base, negated, policy_values, v, request, vars_on) for v in values]
    if quantifier == "ForAllValues":
        return _and(results)  # R6.4
    return _or(results)


def _single(
    base: str, negated: bool, policy_values: list[str], value: str, request: _Context, vars_on: bool
) -> Truth:
    """R6.2: a positive operator matches if some policy value does; a negated one if none does.
    A value with a variable on a key the request cannot tell is unknown (R6.6), and the values
    are combined with Kleene's OR."""
    results: list[Truth] = []
    for policy_value in policy_values:
        try:
            results.append(_value_matches(base, policy_value, value, request, vars_on))
        except _Unknowable:
            results.append(None)
    matched = _or(results)
    return _not(matched) if negated else matched


def _condition(
    block: Any, request: _Context, vars_on: bool, unknown: set[tuple[str, str]]
) -> Truth:
    """R6: the AND of every (operator, key) pair of a Condition block."""
    if not block:
        return True
    if not isinstance(block, Mapping):
        return None
    results: list[Truth] = []
    for operator, pairs in block.items():
        if not isinstance(pairs, Mapping):
            unknown.add((str(operator), ""))
            results.append(None)
            continue
        for key, raw in pairs.items():
            policy_values = [_text(v) for v in (raw if isinstance(raw, list) else [raw])]
            value = _condition_pair(str(operator), str(key), policy_values, request, vars_on)
            if value is None:
                unknown.add((str(operator), str(key)))
            results.append(value)
    return _and(results)


# --- R7 statements and policies ------------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    """R1.1: a policy element's values, whether one value or a list (none: empty)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements_of(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """R1.1: a policy's statements, whether ``Statement`` is one object or a list."""
    found = policy.get("Statement", [])
    items = found if isinstance(found, list) else [found]
    return [s for s in items if isinstance(s, Mapping)]


def statement_value(
    statement: Mapping[str, Any],
    request: Request,
    context: _Context,
    *,
    vars_on: bool,
    layer: str = "identity",
    unknown: set[tuple[str, str]] | None = None,
) -> Truth:
    """R7.1: whether a statement applies: action, resource and condition, three-valued."""
    unknown = unknown if unknown is not None else set()
    if ("Action" in statement and "NotAction" in statement) or (
        "Resource" in statement and "NotResource" in statement
    ):
        return None  # R1.2: exactly one of each; a malformed statement is unknown (R1.5)
    if "Action" in statement:
        actions = any(match_action(str(p), request.action) for p in as_list(statement["Action"]))
    elif "NotAction" in statement:
        actions = not any(
            match_action(str(p), request.action) for p in as_list(statement["NotAction"])
        )
    else:
        return None  # R1.2: exactly one of Action/NotAction; a malformed statement is unknown
    if not actions:
        return False
    if "Resource" in statement:
        resource = _any_resource(statement["Resource"], request.resource, context, vars_on, layer)
    elif "NotResource" in statement:
        resource = _not(
            _any_resource(statement["NotResource"], request.resource, context, vars_on, layer)
        )
    else:
        resource = True  # R1.2
    if resource is False:
        return False
    condition = _condition(statement.get("Condition"), context, vars_on, unknown)
    return _and([resource, condition])


def _any_resource(
    patterns: Any, resource: str, context: _Context, vars_on: bool, layer: str
) -> Truth:
    """R3.8: whether some pattern matches. A long list is looked up, not scanned: its plain
    ARNs (no wildcard, no variable) go in a set keyed as R3.5-6 compare them."""
    listed = [str(p) for p in as_list(patterns)]
    if len(listed) > 8:
        exact, others = _resource_index(tuple(listed))
        if resource != "*" and _exact_key(resource) in exact:
            return True
        listed = list(others)
    return _or(match_resource(p, resource, context, variables=vars_on, layer=layer) for p in listed)


@functools.lru_cache(maxsize=256)
def _resource_index(patterns: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    exact: set[str] = set()
    others: list[str] = []
    for pattern in patterns:
        plain = not any(ch in pattern for ch in "*?$") and pattern.count(":") >= 5
        if plain:
            exact.add(_exact_key(pattern))
        else:
            others.append(pattern)
    return frozenset(exact), tuple(others)


def _exact_key(arn: str) -> str:
    """The form in which two plain ARNs match: the first five segments in lower case (R3.5),
    the rest as it is (R3.6)."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return arn
    return ":".join(parts[:5]).lower() + ":" + parts[5]


@dataclass(slots=True)
class _LayerResult:
    allow: Truth
    deny: Truth
    matches: list[Match]


def _apply_mode(effect: str, value: Truth, mode: Mode) -> Truth:
    """R9: how an unknown statement ends."""
    if value is not None or mode == THREE_VALUED:
        return value
    if mode == OPTIMISTIC:
        return effect == "Allow"
    return effect == "Deny"


def _evaluate_layer(
    name: str,
    policies: Sequence[Mapping[str, Any]],
    request: Request,
    context: _Context,
    mode: Mode,
    unknown: set[tuple[str, str]],
) -> _LayerResult:
    allows: list[Truth] = []
    denies: list[Truth] = []
    matches: list[Match] = []
    for p_index, policy in enumerate(policies):
        vars_on = policy.get("Version") == "2012-10-17"  # R1.3
        for s_index, statement in enumerate(statements_of(policy)):
            effect = statement.get("Effect")
            if effect not in {"Allow", "Deny"}:
                continue
            value = statement_value(
                statement, request, context, vars_on=vars_on, layer=name, unknown=unknown
            )
            value = _apply_mode(str(effect), value, mode)
            if value is False:
                continue
            matches.append(Match(name, p_index, s_index, statement.get("Sid"), str(effect), value))
            (allows if effect == "Allow" else denies).append(value)
    return _LayerResult(_or(allows), _or(denies), matches)  # R7.2


# --- R8.5-R8.7, R8.11-R8.12 principals in resource and trust policies -----------------------------


@dataclass(frozen=True, slots=True)
class _Caller:
    """Who makes the request, as a resource policy's Principal can name it (R8.5, R8.11, R8.12)."""

    account: str | None
    partition: str
    user: str | None  # the IAM user's ARN
    role: str | None  # the role's ARN, with its path, when the request gives it
    role_name: str | None  # the role's name, for a role or a role session
    session: str | None  # the session's ARN (assumed-role or federated-user), when known
    in_session: bool  # a role always acts through a session; a user through GetFederationToken
    root: bool
    service: str | None = None  # the calling service (R8.11)
    federated: str | None = None  # the identity provider of a federated caller (R8.12)

    @property
    def external(self) -> bool:
        """A service or an identity provider's user: no IAM principal of its own calls."""
        return self.account is None and (self.service is not None or self.federated is not None)


def _caller_of(request: Request, *, session_policy: bool) -> _Caller:
    """Return the caller of ``request``: its principal, and the session it acts through."""
    arn = request.principal or ""
    parts = arn.split(":", 5)
    session = request.session
    outside = request.service, request.federated
    if len(parts) < 6 or not parts[4]:
        return _Caller(None, "aws", None, None, None, session, session is not None, False, *outside)
    partition, service, account, rest = parts[1], parts[2], parts[4], parts[5]
    user = role = role_name = None
    if service == "iam" and rest.startswith("user/"):
        user = arn
    elif service == "iam" and rest.startswith("role/"):
        role, role_name = arn, rest.rsplit("/", 1)[-1]
    elif service == "sts" and rest.startswith("assumed-role/"):
        # arn:aws:sts::ACCT:assumed-role/NAME/SESSION: the role's path is not in it (R8.5)
        session, role_name = arn, rest.split("/")[1]
    elif service == "sts" and rest.startswith("federated-user/"):
        session = arn
    in_session = role_name is not None or session is not None or session_policy
    root = service == "iam" and rest == "root"
    return _Caller(account, partition, user, role, role_name, session, in_session, root, *outside)


_UNKNOWN_SESSION = ("Principal", "aws:userid")  # the key that carries the session's name
_UNKNOWN_SERVICE = ("Principal", "Service")  # R8.11
_UNKNOWN_FEDERATED = ("Principal", "Federated")  # R8.12
_SERVICE_SIDE = ("Service", "identity")  # R8.13: what a trust Allow stands in for, for a service
_UNSUPPORTED = ("NotPrincipal", "Allow")
_NAMES_NOTHING = (False, False, False)


def _reach(
    statement: Mapping[str, Any], caller: _Caller, bounded: bool, unknown: set[tuple[str, str]]
) -> tuple[Truth, Truth, Truth]:
    """Return whether a resource-policy statement names the caller, three-valued: at all (its
    Deny applies, its Allow is the resource policy's allow: R8.5, R8.6); by its role or user ARN
    or more directly (an Allow stands in for the identity policies in the same account, R8.7);
    directly, by its user or session ARN or ``*`` (it stands in for the boundary and the session
    policy too, R8.7). ``bounded``: the caller has a permissions boundary (R8.6). A federated
    caller named by its provider is named directly; for a service, what an Allow stands in for
    is unknown (R8.13)."""
    anyhow, entity, direct = _names(statement, caller, bounded, unknown)
    if caller.service is not None and caller.external:
        stands = _and([anyhow, None])  # R8.13: not documented for a service
        if stands is None and statement.get("Effect") == "Allow":
            unknown.add(_SERVICE_SIDE)
        return anyhow, stands, stands
    return anyhow, entity, direct


def _names(
    statement: Mapping[str, Any], caller: _Caller, bounded: bool, unknown: set[tuple[str, str]]
) -> tuple[Truth, Truth, Truth]:
    """Return ``_reach``'s three values as the statement's principal names them (R8.5, R8.6,
    R8.11, R8.12)."""
    if "NotPrincipal" in statement:
        return _not_principal(statement, caller, bounded, unknown)
    principal = statement.get("Principal")
    if principal == "*":
        return _everyone(statement, caller, unknown)
    if not isinstance(principal, Mapping):
        return _NAMES_NOTHING
    found: dict[str, list[Truth]] = {"account": [], "entity": [], "direct": []}
    maybe: set[tuple[str, str]] = set()  # why a naming is unknown, reported if it matters
    for name in as_list(principal.get("AWS")):
        named = _named(str(name), caller)
        if named is not None:
            found[named[0]].append(named[1])
            if named[1] is None:
                maybe.add(_outside_pair(caller) if caller.external else _UNKNOWN_SESSION)
    services = [_names_service(str(n), caller.service) for n in as_list(principal.get("Service"))]
    providers = [
        _names_provider(str(n), caller.federated) for n in as_list(principal.get("Federated"))
    ]
    if None in services:
        maybe.add(_UNKNOWN_SERVICE)
    if None in providers:
        maybe.add(_UNKNOWN_FEDERATED)
    direct = _or([*found["direct"], *services, *providers])
    entity = _or([direct, *found["entity"]])
    anyhow = _or([entity, *found["account"]])
    if None in (direct, entity, anyhow):
        unknown |= maybe
    return anyhow, entity, direct


def _everyone(
    statement: Mapping[str, Any], caller: _Caller, unknown: set[tuple[str, str]]
) -> tuple[Truth, Truth, Truth]:
    """Whom ``"Principal": "*"`` names: everyone (R8.5), directly (R8.7), a service too (R8.11);
    a federated caller is let in only by its provider's name (R8.12)."""
    if caller.federated is not None and caller.external and statement.get("Effect") != "Deny":
        unknown.add(_UNKNOWN_FEDERATED)
        return None, None, None
    return True, True, True


def _outside_pair(caller: _Caller) -> tuple[str, str]:
    return _UNKNOWN_SERVICE if caller.service is not None else _UNKNOWN_FEDERATED


def _named(name: str, caller: _Caller) -> tuple[str, Truth] | None:
    """R8.5: how a Principal ``AWS`` value names the caller: ("account", …) for its account,
    ("entity", …) for its role or (in a federated session) its user, ("direct", …) for itself;
    None when it does not name it."""
    if name == "*":
        # R8.11, R8.12: {"AWS": "*"} is "*" for anonymous users; for a service or a federated
        # caller the docs do not say.
        return "direct", None if caller.external else True
    account = caller.account
    if account is None:
        return None
    if name in {account, f"arn:{caller.partition}:iam::{account}:root"}:
        return "account", True
    parts = name.split(":", 5)
    if len(parts) < 6 or parts[1] != caller.partition or parts[4] != account:
        return None
    service, rest = parts[2], parts[5]
    if service == "iam" and rest.startswith("role/"):
        if caller.role_name is None:
            return None
        same = name == caller.role if caller.role else rest.rsplit("/", 1)[-1] == caller.role_name
        return ("entity", True) if same else None
    if service == "iam" and rest.startswith("user/"):
        if caller.user is None:
            # a federated user whose IAM user the request does not say may be this one's
            federated = caller.session is not None and ":federated-user/" in caller.session
            return ("entity", None) if federated else None
        if name != caller.user:
            return None
        return ("entity", True) if caller.in_session else ("direct", True)
    if service == "sts" and rest.startswith(("assumed-role/", "federated-user/")):
        if caller.session is not None:
            return ("direct", True) if name == caller.session else None
        # The request does not say which session: one of the caller's role (or user) may be it.
        if rest.startswith("assumed-role/") and caller.role_name is not None:
            return ("direct", None) if rest.split("/")[1] == caller.role_name else None
        if rest.startswith("federated-user/") and caller.user is not None and caller.in_session:
            return "direct", None
    return None


_CHINA = ".amazonaws.com.cn"


def _names_service(name: str, service: str | None) -> Truth:
    """R8.11: whether a Principal ``Service`` value names the calling service: the same name;
    unknown for ``*`` (a policy IAM refuses) and for a name differing only in case or in the
    China suffix."""
    if service is None:
        return False
    if name == service:
        return True
    if name == "*":
        return None
    return None if _service_key(name) == _service_key(service) else False


def _service_key(name: str) -> str:
    name = name.lower()
    return name.removesuffix(".cn") if name.endswith(_CHINA) else name


def _names_provider(name: str, provider: str | None) -> Truth:
    """R8.12: whether a Principal ``Federated`` value names the caller's identity provider: the
    same provider; unknown for ``*``, for a name differing only in case, and for an IAM OIDC
    provider's ARN against its bare host."""
    if provider is None:
        return False
    if name == provider:
        return True
    if name == "*" or name.lower() == provider.lower():
        return None
    both_arns = name.startswith("arn:") and provider.startswith("arn:")
    if not both_arns and _provider_host(name) == _provider_host(provider):
        return None
    return False


def _provider_host(name: str) -> str:
    _, oidc, host = name.partition(":oidc-provider/")
    return (host if oidc else name).lower()


def _not_principal(
    statement: Mapping[str, Any], caller: _Caller, bounded: bool, unknown: set[tuple[str, str]]
) -> tuple[Truth, Truth, Truth]:
    """R8.6: whom a NotPrincipal statement applies to."""
    listed = statement.get("NotPrincipal")
    names: list[str] = []
    services: list[str] = []
    providers: list[str] = []
    if listed == "*":
        names = ["*"]
    elif isinstance(listed, Mapping):
        names = [str(n) for n in as_list(listed.get("AWS"))]
        services = [str(n) for n in as_list(listed.get("Service"))]
        providers = [str(n) for n in as_list(listed.get("Federated"))]
    if caller.external:
        lists = _or(
            [
                listed == "*",
                *(None for name in names if name == "*"),  # R8.11, R8.12: not documented
                *(_names_service(name, caller.service) for name in services),
                *(_names_provider(name, caller.federated) for name in providers),
            ]
        )
        return _not_principal_outside(statement, lists, caller, unknown)
    if statement.get("Effect") == "Deny":
        # R8.6: a boundary makes it deny whatever it lists; else all but the spared.
        applies = True if bounded else _not(_spared(names, caller))
        if applies is None:
            unknown.add(_UNKNOWN_SESSION)
        return applies, applies, applies
    # R8.6: Allow with NotPrincipal is not supported: it grants nothing to whom it lists, and
    # is unknown for the others.
    if any(_named(name, caller) for name in names):
        return _NAMES_NOTHING
    unknown.add(_UNSUPPORTED)
    return None, None, None


def _not_principal_outside(
    statement: Mapping[str, Any], lists: Truth, caller: _Caller, unknown: set[tuple[str, str]]
) -> tuple[Truth, Truth, Truth]:
    """R8.6 for a service or a federated caller, which NotPrincipal ``lists`` (its service or
    provider, R8.11, R8.12): it has no account, role or session to be listed as well."""
    if lists is None:
        unknown.add(_outside_pair(caller))
    if statement.get("Effect") == "Deny":
        applies = _not(lists)
        return applies, applies, applies
    if lists is True:
        return _NAMES_NOTHING
    unknown.add(_UNSUPPORTED)
    return None, None, None


def _spared(names: list[str], caller: _Caller) -> Truth:
    """R8.6: whether a Deny's NotPrincipal spares the caller: every principal AWS validates for
    it is listed, its account first, then its user, or its role and then the role session."""
    if "*" in names:
        return True
    account = caller.account
    if account is None:
        return None  # the request does not say who calls
    listed = set(names)
    if not listed & {account, f"arn:{caller.partition}:iam::{account}:root"}:
        return False
    if caller.root:
        return True
    kinds = [_named(name, caller) for name in names]
    if caller.role_name is not None:
        if not any(k == ("entity", True) for k in kinds):
            return False  # the role is not listed
        return _or([k[1] for k in kinds if k is not None and k[0] == "direct"])
    if caller.session is not None:
        return caller.session in listed  # a federated user: its account and its session
    if caller.user is not None:
        if caller.in_session:  # a federated session the request does not name
            return _or([k[1] for k in kinds if k is not None and k[0] == "direct"])
        return caller.user in listed
    return None


@dataclass(slots=True)
class _ResourceResult:
    layer: _LayerResult  # the resource policy's own deny and allow, for the caller (R8.5, R8.6)
    for_identity: Truth  # an allow that stands in for the identity policies (R8.7)
    for_all: Truth  # … and for the boundary and the session policy (R8.7)


def _evaluate_resource(
    policy: Mapping[str, Any],
    request: Request,
    context: _Context,
    mode: Mode,
    unknown: set[tuple[str, str]],
    caller: _Caller,
    *,
    bounded: bool,
    name: str = "resource",
) -> _ResourceResult:
    """R7.2 for a resource policy (``name`` is its layer in the matches): each statement counts
    as far as its principal names the caller (R8.5-R8.7, R8.11-R8.13)."""
    vars_on = policy.get("Version") == "2012-10-17"  # R1.3
    allows: list[Truth] = []
    denies: list[Truth] = []
    for_identity: list[Truth] = []
    for_all: list[Truth] = []
    matches: list[Match] = []
    for s_index, statement in enumerate(statements_of(policy)):
        effect = statement.get("Effect")
        if effect not in {"Allow", "Deny"}:
            continue
        about: set[tuple[str, str]] = set()
        reach = _reach(statement, caller, bounded, about)
        if reach[0] is False:
            continue
        value = statement_value(
            statement, request, context, vars_on=vars_on, layer="resource", unknown=unknown
        )
        if value is False:
            continue
        unknown |= about
        anyhow, stands, directly = (_apply_mode(str(effect), _and([r, value]), mode) for r in reach)
        if anyhow is False:
            continue
        sid = statement.get("Sid")
        named = _level(reach, caller)
        matches.append(Match(name, 0, s_index, sid, str(effect), anyhow, named))
        if effect == "Deny":
            denies.append(anyhow)
        else:
            allows.append(anyhow)
            for_identity.append(stands)
            for_all.append(directly)
    return _ResourceResult(
        _LayerResult(_or(allows), _or(denies), matches), _or(for_identity), _or(for_all)
    )


def _level(reach: tuple[Truth, Truth, Truth], caller: _Caller) -> str:
    """How a statement names the caller, for ``Match.named``: the most direct level that surely
    names it, else the most direct that may."""
    if caller.external:
        return "service" if caller.service is not None else "federated"
    levels = list(zip(("account", "entity", "direct"), reach, strict=True))[::-1]
    for wanted in (True, None):
        for level, value in levels:
            if value is wanted:
                return level
    return "account"


# --- R8 the decision -----------------------------------------------------------------------------

# R8.4, R8.14: what a role's trust policy must allow whatever the identity policies say
# (sts:AssumeRole, sts:AssumeRoleWithSAML, sts:AssumeRoleWithWebIdentity by prefix), lowercased.
_TRUST_ACTIONS = ("sts:assumerole", "sts:tagsession", "sts:setsourceidentity")


def _needs_trust(action: str) -> bool:
    return action.startswith(_TRUST_ACTIONS[0]) or action in _TRUST_ACTIONS[1:]


def evaluate(request: Request, layers: Layers, *, mode: Mode = THREE_VALUED) -> Result:
    """Return the decision on ``request`` of the policies in ``layers`` (R8)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    context = _context(request)
    unknown: set[tuple[str, str]] = set()
    denies: list[_LayerResult] = []  # every layer whose explicit deny counts (R8.1)
    required: list[Truth] = []  # every allow the request needs (R8.2), three-valued

    def layer(name: str, policies: Sequence[Mapping[str, Any]]) -> _LayerResult:
        found = _evaluate_layer(name, policies, request, context, mode, unknown)
        denies.append(found)
        return found

    identity = layer("identity", layers.identity)
    # SCPs do not apply to the management account or to service-linked roles: neither their
    # allows nor their denies (R8.2).
    exempt = request.management_account or _service_linked(request.principal)
    for level, policies in enumerate(layers.scps):
        if not exempt:
            required.append(layer(f"scp[{level}]", policies).allow)
    for level, policies in enumerate(layers.rcps):
        required.append(layer(f"rcp[{level}]", policies).allow)
    same_account = _same_account(request)
    action = request.action.lower()
    # R8.7: in the same account, a resource-policy Allow that names the caller's role or user
    # stands in for its identity policies; one that names the caller directly (its user or
    # session ARN, or "*") for its boundary and session policy too. Naming the account
    # delegates to the account's IAM policies (R8.5). Cross-account nothing stands in.
    for_identity: Truth = False
    for_all: Truth = False
    if layers.resource is not None:
        caller = _caller_of(request, session_policy=layers.session is not None)
        resource = _evaluate_resource(
            layers.resource,
            request,
            context,
            mode,
            unknown,
            caller,
            bounded=layers.boundaries is not None,
        )
        denies.append(resource.layer)
        if same_account:
            for_identity, for_all = resource.for_identity, resource.for_all
        # Cross-account, the resource's own policy must allow too; a role's trust policy must
        # allow sts:AssumeRole*, sts:TagSession and sts:SetSourceIdentity whatever the identity
        # policies say (R8.2, R8.4, R8.8, R8.14).
        if not same_account or _needs_trust(action):
            required.append(resource.layer.allow)
    elif not same_account and not layers.caller_side_only:
        required.append(False)  # cross-account, and the resource has no policy here (R8.15)
    if layers.boundaries is not None:
        boundary = layer("boundary", layers.boundaries)
        required.append(_or([boundary.allow, for_all]))
    if layers.session is not None:
        session = layer("session", [layers.session])
        required.append(_or([session.allow, for_all]))
    identity_allow = identity.allow
    if _is_root(request.principal):
        identity_allow = True  # R8.9: the root user has full access in its account
    if action.startswith("kms:") and layers.resource is not None and same_account:
        # R8.4, R8.8: in the key's account, a key policy must enable the account before the
        # IAM policies count. A caller from another account needs the key policy to allow it
        # (required above) and its own IAM policies, not the key account's root statement.
        enabled = _key_policy_enables_account(layers.resource, request, context, mode)
        identity_allow = _and([enabled, identity_allow])
    if action.startswith("kms:") and not same_account and action not in KMS_CROSS_ACCOUNT:
        required.append(False)  # R8.8: not an operation a key allows across accounts
    required.append(_or([identity_allow, for_identity]))
    return _decision(denies, required, unknown)


def evaluate_trust(
    request: Request, trust_policy: Mapping[str, Any], *, mode: Mode = THREE_VALUED
) -> Result:
    """Return the decision of a role's trust policy alone on ``request`` (R8.14).

    ``request`` is an ``sts:AssumeRole*``, ``sts:TagSession`` or ``sts:SetSourceIdentity`` call
    on the role's ARN, made by an IAM ``principal``, a ``service`` or a ``federated`` caller.
    ExplicitDeny when a Deny applies; Allow when an Allow names the caller, its account included
    (each match's ``named`` says how: an account delegates to its IAM policies, which
    ``evaluate`` checks with the identity layers, R8.5); else ImplicitDeny; Unknown as ``mode``
    says (R9). A NotPrincipal Deny is read for a caller without a permissions boundary (R8.6:
    with one it denies whomever it lists; ``evaluate`` knows the boundary).
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    unknown: set[tuple[str, str]] = set()
    caller = _caller_of(request, session_policy=False)
    trust = _evaluate_resource(
        trust_policy, request, _context(request), mode, unknown, caller, bounded=False, name="trust"
    ).layer
    unknown.discard(_SERVICE_SIDE)  # R8.13: what an Allow stands in for, not the trust's own
    return _decision([trust], [trust.allow], unknown)


def _decision(
    denies: Sequence[_LayerResult], required: Sequence[Truth], unknown: set[tuple[str, str]]
) -> Result:
    """R8.1-R8.3: the decision of the layers whose denies count and the allows required."""
    matches = tuple(m for found in denies for m in found.matches)
    if any(found.deny is True for found in denies):  # R8.1
        deciding = tuple(m for m in matches if m.effect == "Deny" and m.value is True)
        return Result(Decision.EXPLICIT_DENY, deciding, frozenset(unknown))
    if any(value is False for value in required):  # R8.2
        return Result(Decision.IMPLICIT_DENY, (), frozenset(unknown))
    if any(found.deny is None for found in denies) or any(value is None for value in required):
        return Result(Decision.UNKNOWN, matches, frozenset(unknown))  # R8.3
    deciding = tuple(m for m in matches if m.effect == "Allow" and m.value is True)
    return Result(Decision.ALLOW, deciding, frozenset(unknown))


def _key_policy_enables_account(
    policy: Mapping[str, Any] | None, request: Request, context: _Context, mode: Mode
) -> Truth:
    """Whether a key policy allows the request to its account's root principal, the statement
    that lets IAM policies of the account grant access to the key (R8.4); three-valued."""
    account = request.resource_account or account_of(request.resource)
    if policy is None or account is None:
        return True
    partition = _partition_of(request.resource) or _partition_of(request.principal) or "aws"
    root = Request(
        request.action,
        request.resource,
        request.context,
        principal=f"arn:{partition}:iam::{account}:root",
        unknown_keys=request.unknown_keys,
    )
    vars_on = policy.get("Version") == "2012-10-17"  # R1.3
    return _or(
        _apply_mode(
            "Allow", statement_value(s, root, context, vars_on=vars_on, layer="resource"), mode
        )
        for s in statements_of(policy)
        if s.get("Effect") == "Allow" and _names_account(s, account, partition)
    )


def _names_account(statement: Mapping[str, Any], account: str, partition: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return False
    if not isinstance(principal, Mapping):
        return False
    names = {str(v) for v in as_list(principal.get("AWS"))}
    return bool(names & {account, f"arn:{partition}:iam::{account}:root"})


# "Allowing users in other accounts to use a KMS key": the operations a key policy can allow to
# another account (the cryptographic operations and these), lowercased (R8.8).
KMS_CROSS_ACCOUNT = frozenset(
    f"kms:{name}".lower()
    for name in (
        "Decrypt",
        "DeriveSharedSecret",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "ReEncryptFrom",
        "ReEncryptTo",
        "Sign",
        "Verify",
        "VerifyMac",
        "CreateGrant",
        "DescribeKey",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListGrants",
        "RetireGrant",
        "RevokeGrant",
    )
)
_ROOT = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:root")


def _is_root(principal: str | None) -> bool:
    return principal is not None and _ROOT.fullmatch(principal) is not None


def _service_linked(principal: str | None) -> bool:
    """Whether the caller is a service-linked role, or one of its sessions (R8.10)."""
    text = principal or ""
    return roles.is_service_linked(text) or ":assumed-role/AWSServiceRoleFor" in text


def _partition_of(arn: str | None) -> str | None:
    parts = (arn or "").split(":", 2)
    return parts[1] if len(parts) >= 2 and parts[0] == "arn" and parts[1] else None


def _same_account(request: Request) -> bool:
    principal = account_of(request.principal)
    resource = request.resource_account or account_of(request.resource)
    return principal is None or resource is None or principal == resource


# --- the replay check ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call the policies would not allow, and what they would decide."""

    action: str
    resource: str
    decision: Decision


def replay(
    requests: Sequence[Request], layers: Layers, *, mode: Mode = PESSIMISTIC
) -> list[Refusal]:
    """Return the requests that ``layers`` would not allow, pessimistically by default (R9: the
    policies must allow each call whatever the keys the record cannot tell)."""
    found: list[Refusal] = []
    # Many requests share an action: the identity statements that can apply to it are picked
    # once per action (the others are false for it, R7.1), and the rest evaluated per request.
    by_action: dict[str, Layers] = {}
    for request in requests:
        narrowed = by_action.get(request.action)
        if narrowed is None:
            narrowed = by_action[request.action] = _for_action(layers, request.action)
        decision = evaluate(request, narrowed, mode=mode).decision
        if decision is not Decision.ALLOW:
            found.append(Refusal(request.action, request.resource, decision))
    return found


def _for_action(layers: Layers, action: str) -> Layers:
    """Return ``layers`` with only the identity statements whose Action or NotAction lets them
    apply to ``action``; statements without either are kept (they are unknown, R1.2)."""
    narrowed = []
    for policy in layers.identity:
        kept = [statement for statement in statements_of(policy) if _may_apply(statement, action)]
        narrowed.append({**policy, "Statement": kept})
    return Layers(
        identity=narrowed,
        boundaries=layers.boundaries,
        session=layers.session,
        scps=layers.scps,
        rcps=layers.rcps,
        resource=layers.resource,
        caller_side_only=layers.caller_side_only,
    )


def _may_apply(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(match_action(str(p), action) for p in as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(match_action(str(p), action) for p in as_list(statement["NotAction"]))
    return True
