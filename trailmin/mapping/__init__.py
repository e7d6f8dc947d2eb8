"""Event → permissions: which IAM actions (and, later, resources) each CloudTrail call needed."""

from __future__ import annotations

from trailmin.mapping.actions import STATUSES, ActionMapping, map_event, service_prefix

__all__ = ["STATUSES", "ActionMapping", "map_event", "service_prefix"]
