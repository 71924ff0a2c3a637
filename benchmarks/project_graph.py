"""What the benchmark reads of the project's asset graph: its asset keys (to select all but one),
which of them are partitioned (a run of those needs a range of days), and its shape, written for
the trivial graph of the overhead benchmark to copy."""

from __future__ import annotations

import json
from pathlib import Path


def _materializable(defs) -> list:
    """The project's assets that a run materializes: not the lake's external assets."""
    from dagster import AssetSpec

    return [a for a in defs.assets if not isinstance(a, AssetSpec)]


def all_assets_but(excluded: str) -> str:
    """A --select of every asset of the project but `excluded`."""
    from sparkify_assets.definitions import defs

    keys = [spec.key.to_user_string() for a in _materializable(defs) for spec in a.specs]
    return ",".join(k for k in keys if k != excluded)


def partitioned_assets() -> set[str]:
    """The project's assets that a run materializes for a day or a range of days."""
    from sparkify_assets.definitions import defs

    return {
        spec.key.to_user_string()
        for a in _materializable(defs)
        for spec in a.specs
        if spec.partitions_def is not None
    }


def selects_partitioned(select: str) -> bool:
    """Whether a --select of `*` or of comma-separated asset names takes in a partitioned asset."""
    names = {name.strip() for name in select.split(",")}
    return "*" in names or bool(names & partitioned_assets())


def _partitions(partitions_def) -> dict | None:
    """The project's partitions, as the trivial graph rebuilds them (daily time windows only)."""
    from dagster import DailyPartitionsDefinition

    if partitions_def is None:
        return None
    if not isinstance(partitions_def, DailyPartitionsDefinition):
        raise TypeError(f"the trivial graph copies daily partitions only, not {partitions_def!r}")
    described = {
        "start_date": partitions_def.start.strftime(partitions_def.fmt),
        "end_offset": partitions_def.end_offset,
        "timezone": partitions_def.timezone,
        "fmt": partitions_def.fmt,
        "hour_offset": partitions_def.hour_offset,
        "minute_offset": partitions_def.minute_offset,
    }
    if DailyPartitionsDefinition(**described) != partitions_def:  # the copy must be the same
        raise ValueError(f"the trivial graph's copy of {partitions_def!r} would differ")
    return described


def _backfill_policy(policy) -> dict | None:
    if policy is None:
        return None
    return {
        "type": policy.policy_type.value,
        "max_partitions_per_run": policy.max_partitions_per_run,
    }


def _check_specs(specs) -> list[dict]:
    return [
        {"name": s.name, "asset": s.asset_key.to_user_string(), "blocking": s.blocking}
        for s in specs
    ]


def write_shape(path: Path) -> Path:
    """The shape of the project's graph, for the trivial graph to copy, written to `path`: assets,
    dependencies, groups, kinds, checks, partitions and backfill policies."""
    from sparkify_assets.definitions import defs

    shape = {"assets": [], "external": [], "checks": []}
    for assets_def in defs.assets:
        if assets_def not in _materializable(defs):  # the lake: the same external asset
            shape["external"].append(
                {
                    "name": assets_def.key.to_user_string(),
                    "group": assets_def.group_name,
                    "partitions": _partitions(assets_def.partitions_def),
                }
            )
            continue
        own_checks = _check_specs(assets_def.check_specs)  # a star table's audit
        for spec in assets_def.specs:
            shape["assets"].append(
                {
                    "name": spec.key.to_user_string(),
                    "deps": [d.asset_key.to_user_string() for d in spec.deps],
                    "group": spec.group_name,
                    "kinds": sorted(spec.kinds),
                    "checks": [c for c in own_checks if c["asset"] == spec.key.to_user_string()],
                    "partitions": _partitions(spec.partitions_def),
                    "backfill_policy": _backfill_policy(assets_def.backfill_policy),
                }
            )
    for checks_def in defs.asset_checks:
        shape["checks"].append(
            {
                "name": checks_def.node_def.name,
                "can_subset": bool(getattr(checks_def, "can_subset", True)),
                "specs": _check_specs(checks_def.check_specs),
            }
        )
    path.write_text(json.dumps(shape, indent=1))
    return path
