r"""Record data as literal text in GitHub Flavored Markdown.

Pure. Every value that comes from a CloudTrail record or from the authorization details (an ARN,
a name, a user agent, an address, a resource) goes through one of these before it is put in a
Markdown file; trailmin's own headings, column names and sentences do not:

- ``text(value)``: inline text, in a sentence, a list item, a heading or a link's text;
- ``cell(value)``: the text of a table cell (the same escapes: ``text`` escapes every ``|``);
- ``code(value)``: a code span, for ARNs and actions shown as code; never in a table cell;
- ``link(label, folder)``: a link to one of trailmin's own folders, its label escaped.

The rules follow the GFM spec (https://github.github.com/gfm/), what GitHub renders ``index.md``,
``diff.md`` and a pull request's body with; the anchors below are its sections.

- Any ASCII punctuation character may be backslash-escaped, and an escaped character is literal
  (#backslash-escapes). So an escape, not an entity, is the tool: ``\<`` is a literal ``<``
  wherever ``<`` could open raw HTML (#raw-html: ``<script>``, ``<details>``, an HTML comment,
  whose ``<!--`` hides everything after it), an HTML block (#html-blocks) or an autolink
  (#autolinks). An entity would do as well, but would need its own unescaping.
- Always escaped, since they open a construct anywhere in a line: ``\`` (an escape, or a hard
  line break at the end of a line), the backtick (#code-spans), ``*`` (#emphasis-and-strong-
  emphasis: between two letters too), ``~`` (#strikethrough-extension-), ``[`` and ``]``
  (#links, #images; a value's ``]`` would also close trailmin's own link text), ``<`` and ``>``
  (raw HTML, #block-quotes), ``|`` (#tables-extension-: a row is split at every unescaped ``|``,
  one inside a code span too), ``&`` (#entity-and-numeric-character-references: ``&lt;`` would
  show as ``<``) and ``$`` (GitHub renders ``$…$`` as math; its documentation gives ``\$`` for a
  literal dollar).
- Escaped only where they can mean something, so that an ordinary ARN reads the same in the file
  as on the page: ``_`` unless between two letters or digits (an intraword ``_`` can neither open
  nor close emphasis, so ``AWSReservedSSO_Admin_ef13`` stays as it is); ``#`` at the start of the
  value or after a space (an ATX heading, or the closing sequence of ``#`` that a heading drops,
  #atx-headings); ``:`` before ``//``, and the ``.`` of a ``www.`` that starts a word (the
  extended autolinks, #autolinks-extension-, make a bare URL a link).
- A value may be put at the start of a line (a list item's text, a line of its own), so its first
  character other than a space is escaped when it could open a block there: ``-``, ``+``, ``=``
  (#list-items, #thematic-breaks, a setext heading's underline, #setext-headings), and the ``.``
  or ``)`` of an ordered list's marker (``1. ``). ``#``, ``>``, ``*``, ``<``, the backtick and
  ``~`` (headings, block quotes, fences, #fenced-code-blocks) are escaped already.
- A line ending ends a table row and can start a new block (an ATX heading interrupts a
  paragraph), inside a code span too. So every character that does not print is shown as its
  Python escape (``\n``, ``\r``, ``\t``, ``\x1b``, and ``\u202e``, ``\u200b``: a bidirectional
  or zero-width mark would make a name read as another): the value stays on one line, and a
  reader sees what the record held.
- A code span is literal: no escape works inside it, so it needs none, only a fence longer than
  the longest run of backticks in the value, and a space inside each end when the value begins
  or ends with a backtick (the spec strips one space from each end). A ``|`` inside a code span
  still splits a table row, and ``\|`` there shows its backslash outside a table: ``code`` is
  not for table cells.

Left as they are: an e-mail address, which GFM links (``mailto:``) whatever escapes precede its
``@`` (cmark-gfm joins the text first), but whose link text is the whole address, so it cannot
mislead; and what GitHub adds after rendering, outside Markdown (``@user`` mentions and ``#123``
references in a pull request's body, ``:emoji:``), which an escape does not stop (a code span
does). Leading spaces are kept: four of them at the start of a line make an indented code block,
which shows its text literally.

Undoing the backslash escapes (``unescape``) gives back ``visible(value)``: the value, with its
control characters written as their escapes.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# Open a construct wherever they are: escaped always.
ALWAYS = frozenset("\\`*~[]<>|&$")
# Open a block when they begin a line.
LINE_START = frozenset("-+=")

_ORDERED = re.compile(r" *\d{1,9}[.)](?=[ \t]|$)")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def visible(value: object) -> str:
    """Return ``value`` as one line of text: each character that does not print (line endings,
    tabs, controls, bidirectional and zero-width marks, spaces other than " ") written as its
    Python escape (``\\n``, ``\\x1b``, ``\\u202e``), every other character as it is."""
    shown = str(value)
    if shown.isprintable():
        return shown
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in shown)


def text(value: object) -> str:
    """Return ``value`` as Markdown inline text that renders as exactly ``visible(value)``."""
    shown = visible(value)
    start = len(shown) - len(shown.lstrip(" "))
    ordered = _ORDERED.match(shown)
    marker = ordered.end() - 1 if ordered else -1
    out = []
    for i, char in enumerate(shown):
        before = shown[i - 1] if i else " "
        after = shown[i + 1 : i + 2]
        if (
            char in ALWAYS
            or (char == "_" and not (before.isalnum() and after.isalnum()))
            or (char == "#" and before.isspace())
            or (char == ":" and shown.startswith("//", i + 1))
            or (char == "." and shown.endswith("www", 0, i) and _word_start(shown, i - 3))
            or (i == start and char in LINE_START)
            or i == marker
        ):
            out.append("\\")
        out.append(char)
    return "".join(out)


def cell(value: object) -> str:
    """Return ``value`` as the text of a table cell: ``text(value)``, which escapes every ``|``
    and keeps to one line."""
    return text(value)


def code(value: object) -> str:
    """Return ``value`` as a code span showing exactly ``visible(value)`` (not for a table)."""
    shown = visible(value)
    if not shown:
        return "` `"
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest + 1)
    padded = shown.startswith("`") or shown.endswith("`")
    if shown.startswith(" ") and shown.endswith(" ") and shown.strip(" "):
        padded = True  # the spec would strip the value's own spaces
    space = " " if padded else ""
    return f"{fence}{space}{shown}{space}{fence}"


def link(label: object, folder: str) -> str:
    """Return a link to trailmin's folder ``folder`` (beside the file), labelled ``label``."""
    return f"[{text(label)}](./{quote(folder, safe='+=,@')}/)"


def unescape(markdown: str) -> str:
    """Return ``markdown`` with its backslash escapes undone, as a GFM renderer does."""
    return _ESCAPE.sub(r"\1", markdown)


def _word_start(shown: str, i: int) -> bool:
    return i == 0 or not shown[i - 1].isalnum()
