"""Staging: the lake's raw JSON, one row per record, loaded incrementally (load_protocol.py).

`staging_events` is partitioned by day (event_days.py): a run loads the new and changed objects
of its days, a range of days in one run (single-run backfills, from the UI or `--partition-range`),
and each day's partition carries what that day's objects gave the table. `staging_songs`, a
catalogue with no days, loads whatever is new under `song_data/`.

Nothing under a prefix is skipped in silence: objects that are not data are named in the log,
the metadata and `skipped_objects`; keys the records and the JSONPaths disagree on (schema
drift), in the log, the metadata and `schema_drift`. Both are warning checks (checks.py).
"""

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    Config,
    Failure,
    MarkdownMetadataValue,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from sparkify_assets import event_days, load_protocol
from sparkify_assets.failures import refusals_fail_at_once
from sparkify_assets.load_progress import LoadProgress
from sparkify_assets.metadata import markdown_table, table_metadata
from sparkify_assets.resources.engines.base import WAREHOUSE_STEP, Warehouse
from sparkify_assets.resources.lake import Lake, LakeError
from sparkify_assets.resources.lake_objects import named

SAMPLE_OBJECTS = 10  # objects that are not data a log line and the metadata name


class LoadConfig(Config):
    full_refresh: bool = Field(
        default=False,
        description="Rebuild the table from everything in its sources instead of taking in "
        "only what is new (for staging_events: reload every object of the run's days; all "
        "of them when the run covers every day).",
    )


# Every asset's: one run for a range of days (the CLI's `--partition-range` asks it of every
# asset it selects; unpartitioned assets run once in that run).
ONE_RUN = BackfillPolicy.single_run()


def stage(
    context: AssetExecutionContext,
    table: str,
    prefix: str,
    config: LoadConfig,
    warehouse: Warehouse,
    lake: Lake,
) -> MaterializeResult:
    """Load the new and changed objects under `prefix` of the lake into staging `table`."""
    try:
        lake.check(prefix)  # before any table changes: a lake set wrong stops here, clearly
    except LakeError as exc:
        raise Failure(str(exc), allow_retries=False) from None  # retrying cannot fix settings
    listing = lake.listing(prefix)
    objects, not_data, of_day = listing.objects, list(listing.not_data), None
    if context.assets_def.partitions_def is not None:
        of_day, outside = objects_of_days(context, table, objects)
        objects = [o for day_objects in of_day.values() for o in day_objects]
        not_data += outside
    if not_data:
        context.log.warning(
            f"{table}: under {prefix}, {named(not_data, SAMPLE_OBJECTS)}; not loaded"
        )
    progress = LoadProgress(table, context.log.info)
    locks = load_protocol.staging_locks(table)
    with refusals_fail_at_once(), load_protocol.locked(warehouse, locks) as session:
        load_protocol.record_skipped(session, table, not_data)
        with progress.reporting():
            # A run of every day loads the whole table: its full refresh empties it first.
            days = None if of_day is None else list(of_day)
            every_day = days is None or (days[0], days[-1]) == event_days.bounds()
            load = load_protocol.stage(
                session,
                table,
                lake,
                objects,
                config.full_refresh,
                progress,
                days=None if every_day else days,
            )
        for drift in load.drift or ():
            context.log.warning(f"{table}: {drift.sentence(table)}")
        if load.rows_rejected:
            context.log.warning(
                f"{table}: {load.rows_rejected} record(s) rejected into staging_rejects (out of "
                f"{load.rows_loaded + load.rows_rejected} in {load.objects_loaded} object(s))"
            )
        context.log.info(
            f"{table}: {load.objects_loaded} new or changed object(s) of {load.objects_seen}; "
            f"{load.rows_loaded} row(s) loaded, {load.rows_replaced} replaced"
        )
        if load.duplicate_events:
            context.log.warning(
                f"{table}: {load.duplicate_events} event(s) copy events staged before (kept "
                "here as the lake has them; songplays holds each play once)"
            )
        metadata = table_metadata(
            session,
            table,
            objects_seen=load.objects_seen,
            objects_loaded=load.objects_loaded,
            rows_added=load.rows_loaded - load.rows_replaced,
            rows_changed=load.rows_replaced,
            rows_rejected=load.rows_rejected,
            duplicate_events=load.duplicate_events,
            repaired_values=load.repaired_values,
            not_data_objects=len(not_data),
        )
        metadata.update(progress.rates())  # the load's final rate
        if not_data:
            sample = [(o.key, o.size, o.reason) for o in not_data[:SAMPLE_OBJECTS]]
            header = ["object_key", "size", "reason"]
            metadata["not_data_sample"] = MarkdownMetadataValue(markdown_table(header, sample))
        if load.drift is None:
            metadata["schema_drift"] = "not measured by this engine"
        elif load.drift:
            header = ["json_key", "drift", "records", "first_object"]
            rows = [(d.json_key, d.drift, d.records, d.first_object) for d in load.drift]
            metadata["drifted_keys"] = len(load.drift)
            metadata["schema_drift"] = MarkdownMetadataValue(markdown_table(header, rows))
        if load.rows_rejected:
            header, sample = load_protocol.rejects_sample(session, table, load.load_batch)
            metadata["rejects_sample"] = MarkdownMetadataValue(markdown_table(header, sample))
            header, by_reason = load_protocol.rejects_by_reason(session, table, load.load_batch)
            metadata["rejects_by_reason"] = MarkdownMetadataValue(markdown_table(header, by_reason))
        if of_day is not None:
            report_days(context, session, table, of_day)
    return MaterializeResult(metadata=metadata)


def objects_of_days(
    context: AssetExecutionContext, table: str, objects
) -> tuple[dict[str, list], list]:
    """The run's days, in order, each with its listed objects (none for a day the lake lacks),
    and the objects whose day has no partition (reported as not loaded, never dropped in
    silence)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        raise Failure(
            f"{table} is loaded by day: run it for a day or a range of days (the UI's "
            "materialize or backfill, or `dagster asset materialize --partition-range "
            "FIRST...LAST`)",
            allow_retries=False,
        )
    by_day, outside = event_days.by_day(objects)
    return {day: by_day.get(day, []) for day in context.partition_keys}, outside


def report_days(context: AssetExecutionContext, session, table: str, of_day) -> None:
    """Each day's partition: its objects in the lake, and the rows, rejects and duplicate
    events they gave the table (from the load manifest), so the UI shows every day's state."""
    objects = [o for day_objects in of_day.values() for o in day_objects]
    counts = load_protocol.counts_of_objects(session, table, objects)
    for day, day_objects in of_day.items():
        keys = [o.key for o in day_objects]
        loaded = [counts[k] for k in keys if k in counts]
        if not keys:
            context.log.warning(f"{table}: the lake holds no object for {day}")
        context.add_asset_metadata(
            {
                "day_objects": MetadataValue.int(len(keys)),
                "dagster/partition_row_count": MetadataValue.int(sum(c.rows for c in loaded)),
                "day_rows_rejected": MetadataValue.int(sum(c.rows_rejected for c in loaded)),
                "day_duplicate_events": MetadataValue.int(sum(c.duplicate_events for c in loaded)),
            },
            partition_key=day,
        )


@multi_asset(
    specs=[
        AssetSpec(
            "staging_events",
            group_name="staging",
            kinds={"sql"},
            partitions_def=event_days.EVENT_DAYS,
            description="One row per event line of the lake's `log_data/` (one JSON-lines file "
            "per day), partitioned by the day each object belongs to: all 18 raw fields as the "
            "app logged them, plus the object key and line number it came from.",
        )
    ],
    backfill_policy=ONE_RUN,
    **WAREHOUSE_STEP,
)
def staging_events(
    context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse, lake: Lake
) -> MaterializeResult:
    return stage(context, "staging_events", "log_data/", config, warehouse, lake)


@multi_asset(
    specs=[
        AssetSpec(
            "staging_songs",
            group_name="staging",
            kinds={"sql"},
            description="One row per song object of the lake's `song_data/` (one small JSON file "
            "per song): all 10 raw fields, plus the object key it came from.",
        )
    ],
    backfill_policy=ONE_RUN,
    **WAREHOUSE_STEP,
)
def staging_songs(
    context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse, lake: Lake
) -> MaterializeResult:
    return stage(context, "staging_songs", "song_data/", config, warehouse, lake)
