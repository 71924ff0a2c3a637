"""The reference of the year-backfill benchmark: the project's definitions with the event log
unpartitioned, as `staging_events` was before it was partitioned by day.

Everything is the project's own (`sparkify_assets.definitions`: the same assets, checks,
resources, settings and executor, the same staging function `assets.staging.stage` and load
protocol) but for two things: `staging_events` and the lake asset `log_data` have no partitions,
so a run of `staging_events` needs no range of days and loads every object under `log_data/`
(one load, one session, the whole table's metadata and no per-day reports). The same CLI,
`dagster asset materialize -m benchmarks.unpartitioned_graph --select staging_events`, runs it,
and runs the same steps as the project's run of a range of days (the asset and its checks).
"""

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    Definitions,
    MaterializeResult,
    multi_asset,
)

from sparkify_assets import definitions as project_module
from sparkify_assets.assets import staging
from sparkify_assets.resources.engines.base import WAREHOUSE_STEP, Warehouse
from sparkify_assets.resources.lake import Lake

PARTITIONED = ("staging_events", "log_data")


# Not a module-level Definitions of its own: Dagster loads the one Definitions a module holds.
def _project() -> Definitions:
    return project_module.defs


def _is_staging_events(a) -> bool:
    return not isinstance(a, AssetSpec) and {k.to_user_string() for k in a.keys} == {
        "staging_events"
    }


def _unpartitioned_staging_events():
    (project_events,) = [a for a in _project().assets if _is_staging_events(a)]
    (spec,) = project_events.specs

    @multi_asset(
        specs=[spec.replace_attributes(partitions_def=None)],
        backfill_policy=project_events.backfill_policy,
        **WAREHOUSE_STEP,
    )
    def staging_events(
        context: AssetExecutionContext, config: staging.LoadConfig, warehouse: Warehouse, lake: Lake
    ) -> MaterializeResult:
        return staging.stage(context, "staging_events", "log_data/", config, warehouse, lake)

    return staging_events


def _assets() -> list:
    assets = []
    for a in _project().assets:
        if isinstance(a, AssetSpec):
            assets.append(
                a.replace_attributes(partitions_def=None) if a.key.path[0] in PARTITIONED else a
            )
        elif _is_staging_events(a):
            assets.append(_unpartitioned_staging_events())
        else:
            assets.append(a)
    return assets


defs = Definitions(
    assets=_assets(),
    asset_checks=_project().asset_checks,
    resources=_project().resources,
    executor=_project().executor,
)
