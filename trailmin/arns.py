"""ARN text as a policy writes it: the characters IAM reads as wildcards or variables, made literal.

Pure. IAM policy grammar (the policy variables page, "Special characters"): in a ``Resource``,
``*`` and ``?`` are wildcards and ``${…}`` a variable; ``${*}``, ``${?}`` and ``${$}`` stand for
the characters themselves. Every value that comes from a record goes into a policy through
``escape``, inside a pattern too: a request naming the role ``*`` must grant that role only.
"""

from __future__ import annotations


def escape(text: str) -> str:
    """Return ``text`` with ``$``, ``*`` and ``?`` written ``${$}``, ``${*}``, ``${?}``."""
    if not any(ch in text for ch in "$*?"):
        return text
    return "".join({"$": "${$}", "*": "${*}", "?": "${?}"}.get(ch, ch) for ch in text)
