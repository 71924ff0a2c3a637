"""The reference graph of the overhead benchmark: sparkify's shape, with bodies that do nothing.

Same asset names, groups and dependencies, the same external lake assets, the same asset checks
(one multi-asset check per table, and each star table's audit checks reported by its own step,
with the same names, blocking flags and subsetting), the same daily partitions (`staging_events`
and `log_data`) and backfill policies (single-run on every asset, so that the same
`--partition-range` makes one run of both graphs), and the same executor (`in_process_executor`),
run through the same `dagster asset materialize` CLI. Only the bodies differ: they return at once,
touching no warehouse and no lake.

The shape is not copied by hand: `benchmarks/run.py` reads it from
`sparkify_assets.definitions` and passes it as a JSON file in `SPARKIFY_BENCH_SHAPE`, so the two
graphs cannot drift apart. This module imports only Dagster, so its start-up is Dagster's own.
"""

import json
import os

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    asset,
    in_process_executor,
    multi_asset_check,
)


def _load_shape() -> dict:
    path = os.environ.get("SPARKIFY_BENCH_SHAPE")
    if not path:
        raise RuntimeError(
            "SPARKIFY_BENCH_SHAPE is not set: run this graph through benchmarks/run.py, which "
            "writes the shape of sparkify_assets' graph to a JSON file and names it there"
        )
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _partitions(described: dict | None) -> DailyPartitionsDefinition | None:
    return DailyPartitionsDefinition(**described) if described else None


def _backfill_policy(described: dict | None) -> BackfillPolicy | None:
    if described is None:
        return None
    if described["type"] == "SINGLE_RUN":
        return BackfillPolicy.single_run()
    return BackfillPolicy.multi_run(described["max_partitions_per_run"] or 1)


def _trivial_asset(spec: dict):
    own_checks = [
        AssetCheckSpec(c["name"], asset=spec["name"], blocking=c["blocking"])
        for c in spec["checks"]
    ]

    @asset(
        name=spec["name"],
        deps=spec["deps"],
        group_name=spec["group"],
        kinds=set(spec["kinds"]) or None,
        check_specs=own_checks or None,
        partitions_def=_partitions(spec["partitions"]),
        backfill_policy=_backfill_policy(spec["backfill_policy"]),
    )
    def _body(context: AssetExecutionContext) -> MaterializeResult:
        passed = [AssetCheckResult(check_name=c.name, passed=True) for c in own_checks]
        return MaterializeResult(check_results=passed)

    return _body


def _trivial_check(spec: dict):
    specs = [
        AssetCheckSpec(c["name"], asset=c["asset"], blocking=c["blocking"]) for c in spec["specs"]
    ]

    @multi_asset_check(name=spec["name"], specs=specs, can_subset=spec["can_subset"])
    def _body(context):
        for key in context.selected_asset_check_keys:
            yield AssetCheckResult(asset_key=key.asset_key, check_name=key.name, passed=True)

    return _body


SHAPE = _load_shape()
defs = Definitions(
    assets=[
        *(
            AssetSpec(e["name"], group_name=e["group"], partitions_def=_partitions(e["partitions"]))
            for e in SHAPE["external"]
        ),
        *(_trivial_asset(a) for a in SHAPE["assets"]),
    ],
    asset_checks=[_trivial_check(c) for c in SHAPE["checks"]],
    executor=in_process_executor,
)
