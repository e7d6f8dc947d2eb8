"""AWS partitions: which one a region belongs to."""

from __future__ import annotations

import functools


@functools.cache
def partition_of_region(region: str | None) -> str:
    """Return the AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``, …) of a region name."""
    if not region:
        return "aws"
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("us-isof-"):
        return "aws-iso-f"
    if region.startswith("eu-isoe-"):
        return "aws-iso-e"
    if region.startswith("us-iso-"):
        return "aws-iso"
    return "aws"
