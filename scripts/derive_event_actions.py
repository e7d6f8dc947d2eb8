"""Derive trailmin/mapping/data/sdk_renames.csv from iam-dataset's SDK map (in ../shared/reference).

CloudTrail's eventName is the API operation's name, which is the SDK method's name. Where
``<prefix>:<eventName>`` is not an IAM action, iam-dataset's SDK map (MIT) says which action the
operation needs. This keeps only the plain renames: one action of the same service, no
condition on the request, present in the pinned catalog. Calls that need several actions, or an
action that depends on the request, are curated by hand in event_actions.csv.

    .venv/bin/python scripts/derive_event_actions.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from trailmin.aws import catalog

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "reference" / "iam-dataset-sdk-map-2022.json"
TARGET = ROOT / "trailmin" / "mapping" / "data" / "sdk_renames.csv"


def main() -> None:
    data = json.loads(SOURCE.read_text())
    services = data["sdk_service_mappings"]
    # The map's method keys spell some services without the space of its service table
    # ("APIGateway.GetResource" beside "API Gateway").
    squeezed = {name.replace(" ", "").lower(): p for name, p in services.items()}
    rows: dict[tuple[str, str], str] = {}
    for method, mappings in sorted(data["sdk_method_iam_mappings"].items()):
        service, _, operation = method.partition(".")
        prefix = services.get(service) or squeezed.get(service.lower())
        if prefix is None or len(mappings) != 1 or mappings[0].get("conditions"):
            continue
        wanted = catalog.action(mappings[0]["action"])
        if wanted is None or catalog.action(f"{prefix}:{operation}") is not None:
            continue
        if wanted.service != prefix:
            # The 2022 map files S3 Control (s3-outposts) and other APIs under the same SDK
            # service; an action of another service is curated by hand or not at all.
            continue
        if wanted.full_name.lower() == f"{prefix}:{operation}".lower():
            continue
        rows[(prefix, operation)] = wanted.full_name
    with TARGET.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["service", "event_name", "action", "provenance"])
        for (prefix, operation), action in sorted(rows.items()):
            writer.writerow(
                [
                    prefix,
                    operation,
                    action,
                    f"iam-dataset map.json (2022) {service_of(data, prefix)}.{operation}",
                ]
            )
    print(f"wrote {len(rows)} rows to {TARGET.relative_to(ROOT)}")


def service_of(data: dict, prefix: str) -> str:
    names = [
        name for name, p in data["sdk_service_mappings"].items() if p == prefix and " " not in name
    ]
    return sorted(names)[0] if names else prefix


if __name__ == "__main__":
    main()
