"""Names shortened for a narrow terminal: ARNs without the head every row shares, and the columns
of a table chosen by the width they need. Pure: strings and widths in, strings and plans out.

A table on an 80-column terminal must be read a row a line, a name whole. The partition and the
account most rows repeat are said once above the table (``account 111122223333 (aws)``) and left
out of each ARN; an IAM ARN keeps ``role/…`` or ``user/…``, the part a person reads. A role's path
can go (``role/…/NAME``): IAM names a role uniquely in its account without it. A resource ARN too
long for its column loses its middle, never its end, which names the resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Head:
    """What the ARNs of a table share: their partition, and their account when it is one."""

    partition: str
    account: str | None


def _fields(text: str) -> list[str] | None:
    """Return an ARN's six fields (arn, partition, service, region, account, resource)."""
    fields = text.split(":", 5)
    return fields if len(fields) == 6 and fields[0] == "arn" and fields[1] else None


def common_head(names: Iterable[str]) -> Head | None:
    """Return the partition and account every ARN among ``names`` shares (other names, such as
    ``lambda.amazonaws.com``, are passed over); only the ``aws`` partition when the accounts
    differ; None when neither is shared."""
    heads = {(f[1], f[4]) for f in map(_fields, names) if f is not None}
    if len(heads) == 1:
        ((partition, account),) = heads
        return Head(partition, account or None)
    if {partition for partition, _ in heads} == {"aws"}:
        return Head("aws", None)
    return None


def describe_head(head: Head, *, others: bool = False) -> str:
    """Return the line above a table that says what its ARNs leave out; ``others`` when some
    are not IAM ARNs (``ssm:us-east-1::association/x``)."""
    if head.account is None:
        return f"ARNs shown without arn:{head.partition}:"
    said = f"account {head.account} ({head.partition}): ARNs shown without "
    said += f"arn:{head.partition}:iam::{head.account}:"
    if others:
        said += f"; other ARNs without arn:{head.partition}: and the account"
    return said


def shorten_arn(text: str, head: Head | None) -> str:
    """Return ``text`` without the head it shares with the table: ``role/x`` for an IAM ARN of
    the account, ``ssm:us-east-1::association/x`` for another ARN of it, ``iam::444455556666:
    role/x`` for an ARN of another account in the partition; anything else unchanged."""
    fields = _fields(text)
    if head is None or fields is None or fields[1] != head.partition:
        return text
    _, _, service, region, account, resource = fields
    if head.account is None or account != head.account:
        return text.removeprefix(f"arn:{head.partition}:")
    if service == "iam" and not region:
        return resource
    return f"{service}:{region}::{resource}"


def drop_path(name: str) -> str:
    """Return a role's or user's name without its path: ``role/…/NAME`` for ``role/a/b/NAME``,
    ``iam::444455556666:role/…/NAME`` for ``iam::444455556666:role/a/NAME``."""
    before, colon, resource = name.rpartition(":")
    kind, _, rest = resource.partition("/")
    if kind not in ("role", "user") or "/" not in rest:
        return name
    return f"{before}{colon}{kind}/{ELLIPSIS}/{rest.rsplit('/', 1)[1]}"


def elide_middle(text: str, width: int) -> str:
    """Return ``text`` in at most ``width`` characters: its start, ``…`` and its end, the end
    longer; a shortened ARN keeps its service whole (``ssm:…/team/credentials-0``)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    service, colon, _ = text.partition(":")
    start = len(service) + 1 if colon and len(service) < width // 3 else (width - 1) // 3
    return text[:start] + ELLIPSIS + text[len(text) - (width - 1 - start) :]


@dataclass(frozen=True, slots=True)
class Plan:
    """The columns a table shows, in its order, each with its width, and those it leaves out."""

    widths: dict[str, int]
    hidden: tuple[str, ...]


def plan_columns(
    natural: dict[str, int],
    *,
    order: Sequence[str],
    priority: Sequence[str],
    width: int,
    least: dict[str, int] | None = None,
    gap: int = 2,
) -> Plan:
    """Return which columns fit in ``width`` and how wide each is.

    ``natural`` is the width each column needs to show every cell whole; ``least`` the width a
    column may be narrowed to (its cells elided). Columns are taken in ``priority``, the first
    always, each next one if it still fits; the columns narrowed then widen, in priority, into
    what is left. The widths come back in ``order``.
    """
    least = least or {}
    chosen: list[str] = []
    used = 0
    for column in priority:
        need = least.get(column, natural[column])
        if chosen and used + gap + need > width:
            continue
        used += need + (gap if chosen else 0)
        chosen.append(column)
    widths = {column: least.get(column, natural[column]) for column in chosen}
    for column in chosen:
        grow = min(natural[column] - widths[column], width - used)
        if grow > 0:
            widths[column] += grow
            used += grow
    return Plan(
        widths={column: widths[column] for column in order if column in widths},
        hidden=tuple(column for column in order if column not in widths),
    )
