"""Sensors that watch the lake and request the runs that load what is new in it.

One sensor per lake prefix: `log_data/` feeds `staging_events`, `song_data/` feeds
`staging_songs`. A tick lists on from the last key it saw (new days sort last) and re-checks a few
pages of what it saw before (songs arrive in any key order; any object can be rewritten), so its
cost does not grow with the bucket; it asks for at most one run of the staging asset, which then
loads whatever the load manifest lacks: for `staging_events`, one run over the days from the
first to the last whose objects are new or changed (a year of days arriving at once is one run;
days between with nothing new load nothing). What is downstream updates by its automation
condition (automation.py). docs/sensors.md says how and why, with the defaults.
"""

import hashlib
import time
from collections.abc import Sequence
from dataclasses import replace

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSelection,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from sparkify_assets import event_days
from sparkify_assets.assets.lake import lake_key
from sparkify_assets.lake_scan import WATCHES, Cursor, Pending, Scan, Watch, scan
from sparkify_assets.resources.engines.base import Warehouse, WarehouseBusy
from sparkify_assets.resources.lake import Lake
from sparkify_assets.resources.lake_objects import LakeObject, named

NAMED_NOT_DATA = 3  # objects that are not data a tick's log line and skip reason name


def run_key(watch: Watch, requested: dict[str, Pending]) -> str:
    """The same objects, versions and attempts give the same key: a repeated tick is harmless."""
    text = "".join(f"{k}\t{p.etag}\t{p.attempt}\n" for k, p in sorted(requested.items()))
    return f"{lake_key(watch)}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


# Dagster's standard key for when an asset's data last changed: here, when the tick saw it.
LAST_UPDATED = "dagster/last_updated_timestamp"


def arrivals(watch: Watch, found: Scan, now: float) -> list[AssetMaterialization]:
    """What a tick saw arrive in the lake, as materializations of the lake asset (one per day,
    for a prefix loaded by day): the app wrote the data, the sensor reports it. The UI shows
    which days arrived, and the freshness policy on `log_data` judges its last one (Dagster's
    time-window policy reads materializations, not observations)."""
    if watch.by_day:
        days: dict[str | None, list[LakeObject]] = {}
        for obj in found.arrived:
            days.setdefault(event_days.day_of(obj), []).append(obj)
    else:
        days = {None: list(found.arrived)}
    return [
        AssetMaterialization(
            asset_key=lake_key(watch),
            partition=day,
            metadata={
                "objects_listed": found.listed,
                "objects_arrived": len(objects),
                "bytes_arrived": sum(o.size for o in objects),
                "newest_key": max(o.key for o in objects),
                LAST_UPDATED: MetadataValue.timestamp(now),
            },
        )
        for day, objects in sorted(days.items(), key=lambda item: item[0] or "")
    ]


def request_tags(watch: Watch, requested: dict[str, Pending]) -> dict[str, str]:
    """What a run request says: the prefix, its new objects, and for a prefix loaded by day
    the range of days from the first to the last of theirs."""
    keys = sorted(requested)
    tags = {
        "sparkify/lake_prefix": watch.prefix,
        "sparkify/new_objects": str(len(keys)),
        "sparkify/first_new_object": keys[0],
    }
    if watch.by_day:
        days = event_days.covering([p.day for p in requested.values() if p.day])
        if days:
            tags.update(event_days.range_tags(*days))
    return tags


def evaluate(
    context: SensorEvaluationContext,
    watch: Watch,
    selection: Sequence[AssetKey],
    warehouse: Warehouse,
    lake: Lake,
) -> SensorResult:
    """One tick of the sensor for `watch`: at most one run request, and the next cursor."""
    busy = SensorResult(skip_reason=f"{watch.prefix}: a run holds the warehouse")
    if warehouse.busy():
        return busy  # the cursor stays where it was
    cursor = Cursor.parse(context.cursor)
    now = time.time()
    try:
        found = scan(lake, warehouse, watch, cursor, now=int(now))
    except WarehouseBusy:
        return busy  # a run took the warehouse between the check and the tick's query
    context.log.info(
        f"{watch.prefix}: {found.listed} key(s) listed in {found.tail_pages} page(s) after the "
        f"tail and {found.sweep_pages} of the sweep; "
        f"{len(found.requested)} to load; {len(found.cursor.pending)} requested and not loaded yet"
    )
    nothing_new = f"{watch.prefix}: nothing new"
    if found.not_data:
        # Never a run for them (a _SUCCESS marker carries no data), but never silence either.
        passed_over = f"{named(found.not_data, NAMED_NOT_DATA)}, no run for them"
        context.log.warning(f"{watch.prefix}: {passed_over}")
        nothing_new += f"; {passed_over}"
    next_cursor = found.cursor.dump()
    if not found.requested:
        return SensorResult(skip_reason=nothing_new, cursor=next_cursor)
    request = RunRequest(
        run_key=run_key(watch, found.requested),
        asset_selection=list(selection),
        tags=request_tags(watch, found.requested),
    )
    # Only objects new to the lake are an arrival; a retried request is not.
    return SensorResult(
        run_requests=[request], cursor=next_cursor, asset_events=arrivals(watch, found, now)
    )


def selection_for(watch: Watch, assets: Sequence[AssetsDefinition]) -> list[AssetKey]:
    """The staging asset the prefix feeds (what is downstream follows by automation)."""
    return sorted(AssetSelection.assets(watch.staging_asset).resolve(assets))


def lake_sensor(watch: Watch, assets: Sequence[AssetsDefinition]) -> SensorDefinition:
    """The sensor for one prefix of the lake; `assets` is the graph it requests runs from."""
    selection = selection_for(watch, assets)

    @sensor(
        name=watch.name,
        target=selection,
        minimum_interval_seconds=watch.interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            f"Watches the lake's `{watch.prefix}` for new and changed objects and requests a run "
            f"of `{watch.staging_asset}`"
            + (" for their days" if watch.by_day else "")
            + "; what is downstream follows by its automation condition."
        ),
    )
    def watch_prefix(
        context: SensorEvaluationContext, warehouse: Warehouse, lake: Lake
    ) -> SensorResult:
        return evaluate(context, watch, selection, warehouse, lake)

    return watch_prefix


def lake_sensors(
    assets: Sequence[AssetsDefinition], interval_seconds: int | None = None
) -> list[SensorDefinition]:
    """One sensor per watched prefix of the lake (`log_data/`, `song_data/`), each looking every
    `interval_seconds` if given, else at its own default."""
    if interval_seconds:
        return [lake_sensor(replace(w, interval_seconds=interval_seconds), assets) for w in WATCHES]
    return [lake_sensor(watch, assets) for watch in WATCHES]
