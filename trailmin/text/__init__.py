"""Words and Markdown for every output: counts in words (``wording``), record values made safe
as Markdown (``markdown``), names shortened for a narrow terminal (``shorten``).

Pure: strings in, strings out; imports nothing of trailmin (``ruff.toml`` here bans the rest).
"""
