"""Staging: the lake's raw JSON, one row per record, loaded incrementally (load_protocol.py)."""

from dagster import (
    AssetExecutionContext,
    Config,
    Failure,
    MarkdownMetadataValue,
    MaterializeResult,
    asset,
)
from pydantic import Field

from sparkify_assets import load_protocol
from sparkify_assets.failures import refusals_fail_at_once
from sparkify_assets.load_progress import LoadProgress
from sparkify_assets.metadata import markdown_table, table_metadata
from sparkify_assets.resources.engines.base import WAREHOUSE_STEP, Warehouse
from sparkify_assets.resources.lake import Lake, LakeError


class LoadConfig(Config):
    full_refresh: bool = Field(
        default=False,
        description="Rebuild the table from everything in its sources instead of taking in "
        "only what is new.",
    )


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
    objects = list(lake.list_objects(prefix))
    progress = LoadProgress(table, context.log.info)
    locks = load_protocol.staging_locks(table)
    with refusals_fail_at_once(), load_protocol.locked(warehouse, locks) as session:
        with progress.reporting():
            load = load_protocol.stage(session, table, lake, objects, config.full_refresh, progress)
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
        )
        metadata.update(progress.rates())  # the load's final rate
        if load.rows_rejected:
            header, sample = load_protocol.rejects_sample(session, table, load.load_batch)
            metadata["rejects_sample"] = MarkdownMetadataValue(markdown_table(header, sample))
    return MaterializeResult(metadata=metadata)


@asset(**WAREHOUSE_STEP, group_name="staging", kinds={"sql"})
def staging_events(
    context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse, lake: Lake
) -> MaterializeResult:
    """One row per event line of the lake's `log_data/` (one JSON-lines file per day): all 18 raw
    fields as the app logged them, plus the object key and line number it came from."""
    return stage(context, "staging_events", "log_data/", config, warehouse, lake)


@asset(**WAREHOUSE_STEP, group_name="staging", kinds={"sql"})
def staging_songs(
    context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse, lake: Lake
) -> MaterializeResult:
    """One row per song object of the lake's `song_data/` (one small JSON file per song): all 10
    raw fields, plus the object key it came from."""
    return stage(context, "staging_songs", "song_data/", config, warehouse, lake)
