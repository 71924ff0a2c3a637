"""Staging: the lake's raw JSON, one row per record, loaded incrementally through a manifest.

A run lists the lake, compares each object's version (ETag, or size and mtime) with the load
manifest, and loads only new or changed objects, in one transaction: a changed object's old rows
(and old rejects) are replaced, bad records go to `staging_rejects`, and the manifest records what
was loaded. A rerun with nothing new changes nothing.
"""

from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    Config,
    Failure,
    MarkdownMetadataValue,
    MaterializeResult,
    asset,
)
from pydantic import Field

from sparkify_assets import sql_files
from sparkify_assets.assets.metadata import markdown_table, table_metadata
from sparkify_assets.resources.lake import Lake, LakeError
from sparkify_assets.resources.warehouse import WAREHOUSE_STEP, Warehouse


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
    by_table = {"table_name": table}
    with warehouse.session() as session:
        for name in (table, *sql_files.BOOKKEEPING_TABLES):
            session.create_table(name)
        session.lock(table)  # before reading the manifest: a concurrent run waits, then sees ours
        if config.full_refresh:
            session.run(table, "delete_all")
            session.run("staging_rejects", "delete_all", by_table)
            session.run("load_manifest", "delete_all", by_table)
        loaded = dict(session.fetch_section("load_manifest", "versions", by_table))
        todo = [o for o in objects if loaded.get(o.key) != o.etag]
        rows_loaded = rows_rejected = rows_replaced = 0
        if todo:
            (load_batch,) = session.fetch_section("load_batches", "next_batch")[0]
            session.load_objects([(o.key, o.etag, o.size, 0, 0) for o in todo])
            (rows_replaced,) = session.run(table, "delete_objects")
            session.run("staging_rejects", "delete_objects", by_table)
            session.run("load_manifest", "delete_objects", by_table)
            counts = session.stage(table, lake, todo, load_batch)
            rows_loaded = sum(good for good, _bad in counts.values())
            rows_rejected = sum(bad for _good, bad in counts.values())
            session.load_objects([(o.key, o.etag, o.size, *counts[o.key]) for o in todo])
            now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
            batch = {**by_table, "load_batch": load_batch, "loaded_at": now}
            session.analyze(table)
            session.run("load_manifest", "record_objects", batch)
            session.run(
                "load_batches",
                "record",
                {
                    **batch,
                    "objects": len(todo),
                    "rows_loaded": rows_loaded,
                    "rows_rejected": rows_rejected,
                    "rows_replaced": rows_replaced,
                    "full_refresh": config.full_refresh,
                },
            )
        if rows_rejected:
            context.log.warning(
                f"{table}: {rows_rejected} record(s) rejected into staging_rejects "
                f"(out of {rows_loaded + rows_rejected} in {len(todo)} object(s))"
            )
        context.log.info(
            f"{table}: {len(todo)} new or changed object(s) of {len(objects)}; "
            f"{rows_loaded} row(s) loaded, {rows_replaced} replaced"
        )
        metadata = table_metadata(
            session,
            table,
            objects_seen=len(objects),
            objects_loaded=len(todo),
            rows_added=rows_loaded - rows_replaced,
            rows_changed=rows_replaced,
            rows_rejected=rows_rejected,
        )
        if rows_rejected:
            header, sample = session.query(
                sql_files.statements("staging_rejects", "sample", session.dialect)[0],
                {**by_table, "load_batch": load_batch},
            )
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
