"""ARN text as a policy writes it: the characters IAM reads as wildcards or variables, made literal.

Pure. IAM policy grammar (the policy variables page, "Special characters"): in a ``Resource``,
``*`` and ``?`` are wildcards and ``${…}`` a variable; ``${*}``, ``${?}`` and ``${$}`` stand for
the characters themselves. Every value that comes from a record goes into a policy through
``escape``, inside a pattern too: a request naming the role ``*`` must grant that role only.
"""

from __future__ import annotations

import re

# A variable of the catalog's ARN templates: ${Partition}, ${BucketName}, ${Ipv4PoolEc2Id}.
TEMPLATE_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def escape(text: str) -> str:
    """Return ``text`` with ``$``, ``*`` and ``?`` written ``${$}``, ``${*}``, ``${?}``."""
    if not any(ch in text for ch in "$*?"):
        return text
    return "".join({"$": "${$}", "*": "${*}", "?": "${?}"}.get(ch, ch) for ch in text)


# ARN forms the catalog's templates do not spell out. Lambda developer guide, "Lambda function
# versions" and "aliases": a function is named by its unqualified ARN or by a qualified one,
# ``function:NAME:VERSION`` or ``function:NAME:ALIAS``, and a policy on one does not cover the
# other.
_VARIANTS = {
    "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}": (
        "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}:${Qualifier}",
    ),
}


def template_forms(template: str) -> tuple[str, ...]:
    """Return the ARN template and the other forms an ARN of its type takes (a Lambda
    function's qualified ARN)."""
    return (template, *_VARIANTS.get(template, ()))


def account_of(arn: str | None) -> str | None:
    """Return an ARN's account (its fifth field), or None when it has none (an S3 ARN, a
    service principal, no ARN at all)."""
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    return parts[4] if len(parts) > 4 and parts[4] else None


def partition_of(arn: str) -> str:
    """Return an ARN's partition (``aws``, ``aws-cn``, …); ``aws`` for anything else."""
    return arn.split(":", 2)[1] if arn.startswith("arn:") and arn.count(":") >= 2 else "aws"
