"""The star schema: dimensions users, songs, artists, time and the fact songplays.

Each table's meaning and merge live in `sql/<table>.sql`; which staging batches a run takes in,
and the watermarks that remember it, in load_protocol.py. `full_refresh` empties the table and
takes in everything.

Write-audit-publish: each table's step merges, then audits what it is about to publish against
the table's blocking rules inside the same transaction (audit.judge), and commits only if every
rule holds. The rules are the asset's own checks: selected without the table (the checks job),
the step audits every published row instead, changing nothing.
"""

import time
from collections.abc import Iterator, Mapping, Sequence

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from sparkify_assets import audit, load_protocol
from sparkify_assets.assets.staging import ONE_RUN, LoadConfig
from sparkify_assets.automation import AFTER_INPUTS_CHANGE
from sparkify_assets.checks import CHECKED_TABLES
from sparkify_assets.failures import refusals_fail_at_once
from sparkify_assets.metadata import table_metadata
from sparkify_assets.resources.engines.base import WAREHOUSE_STEP, Warehouse

Lineage = Mapping[str, Sequence[tuple[str, str]]]
EVENTS, SONGS = "staging_events", "staging_songs"


def merge(
    context: AssetExecutionContext,
    table: str,
    sources: Sequence[str],
    config: LoadConfig,
    warehouse: Warehouse,
    lineage: Lineage,
) -> Iterator:
    """Merge the new staging batches of `sources` into star `table`, audit what it is about to
    publish, and commit only if every blocking rule holds."""
    writes, reads = load_protocol.star_locks(table, sources)
    windows: list[load_protocol.Window] = []
    try:
        with load_protocol.locked(warehouse, writes, reads) as session:
            done = load_protocol.merge(session, table, sources, config.full_refresh)
            windows = done.windows
            context.log.info(
                f"{table}: took in load batches {', '.join(map(str, done.windows))}; "
                f"{done.rows_written} row(s) written, {done.rows_deleted} deleted or replaced"
            )
            incremental = not config.full_refresh and any(w.after for w in done.windows)
            audit_started = time.perf_counter()
            verdicts = audit.judge(session, table, incremental)
            audit_seconds = round(time.perf_counter() - audit_started, 3)
            metadata = table_metadata(
                session,
                table,
                lineage,
                rows_added=done.rows_written - done.rows_deleted,
                rows_changed=done.rows_deleted,
            )
            metadata["audit_seconds"] = MetadataValue.float(audit_seconds)
    except audit.AuditFailed as failed:  # rolled back: the table is as it was before the run
        audit.keep_failures(warehouse, failed, context.run.run_id, windows)
        yield from (v.result() for v in failed.verdicts)
        failing = {v.rule.name: v.failing for v in failed.verdicts if v.failing}
        raise Failure(
            str(failed), metadata={"failing_rows": MetadataValue.json(failing)}, allow_retries=False
        ) from None
    yield MaterializeResult(
        asset_key=table, metadata=metadata, check_results=[v.result() for v in verdicts]
    )


def audit_only(context: AssetExecutionContext, table: str, warehouse: Warehouse) -> Iterator:
    """The table's audit rules on every published row, as selected, changing nothing."""
    selected = context.selected_asset_check_keys
    with load_protocol.reading(warehouse, CHECKED_TABLES) as session:
        for verdict in audit.judge(session, table, incremental=False, raise_on_failure=False):
            if AssetCheckKey(AssetKey(table), verdict.rule.name) in selected:
                yield verdict.result()


def star_table(
    table: str, sources: Sequence[str], deps: Sequence[str], lineage: Lineage, description: str
) -> AssetsDefinition:
    """The asset of star `table`, merged from staging `sources`, with its audit as its checks."""

    @multi_asset(
        name=table,
        specs=[
            AssetSpec(
                table,
                deps=deps,
                group_name="star",
                kinds={"sql"},
                description=description,
                automation_condition=AFTER_INPUTS_CHANGE,
            )
        ],
        check_specs=audit.specs(table),
        can_subset=True,
        backfill_policy=ONE_RUN,
        **WAREHOUSE_STEP,
    )
    def star_step(context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse):
        with refusals_fail_at_once():
            if AssetKey(table) in context.selected_asset_keys:
                yield from merge(context, table, sources, config, warehouse, lineage)
            else:
                yield from audit_only(context, table, warehouse)

    return star_step


users = star_table(
    "users",
    [EVENTS],
    [EVENTS],
    {
        c: [(EVENTS, e)]
        for c, e in {
            "user_id": "userid",
            "first_name": "firstname",
            "last_name": "lastname",
            "gender": "gender",
            "level": "level",
            "last_seen_at": "ts",
        }.items()
    },
    "One row per user (non-empty userId seen in any event), as of the user's latest event: name, "
    "gender and current level (free or paid; users move between the two).",
)

songs = star_table(
    "songs",
    [SONGS],
    [SONGS],
    {c: [(SONGS, c)] for c in ("song_id", "title", "artist_id", "year", "duration")},
    "One row per song in the catalogue (song_id): title, artist, year (0 = unknown), duration in "
    "seconds.",
)

artists = star_table(
    "artists",
    [SONGS],
    [SONGS],
    {
        c: [(SONGS, s)]
        for c, s in {
            "artist_id": "artist_id",
            "name": "artist_name",
            "location": "artist_location",
            "latitude": "artist_latitude",
            "longitude": "artist_longitude",
        }.items()
    },
    "One row per artist in the catalogue (artist_id): name, location and coordinates, taken from "
    "the most complete of the artist's song records.",
)

play_times = star_table(
    "time",
    [EVENTS],
    [EVENTS],
    {
        c: [(EVENTS, "ts")]
        for c in ("start_time", "hour", "day", "week", "month", "year", "weekday")
    },
    "One row per distinct play time (songplays.start_time, UTC, with milliseconds): hour, day of "
    "month, ISO week, month, year and weekday (0 = Sunday).",
)

songplays = star_table(
    "songplays",
    [EVENTS, SONGS],
    [EVENTS, SONGS, "users", "time", "songs", "artists"],
    {
        "songplay_id": [(EVENTS, c) for c in ("userid", "sessionid", "iteminsession", "ts")],
        "start_time": [(EVENTS, "ts"), ("time", "start_time")],
        "user_id": [(EVENTS, "userid"), ("users", "user_id")],
        "level": [(EVENTS, "level")],
        "song_id": [(EVENTS, "song"), (EVENTS, "artist"), (EVENTS, "length"), (SONGS, "song_id")],
        "artist_id": [(EVENTS, "artist"), (SONGS, "artist_id")],
        "session_id": [(EVENTS, "sessionid")],
        "location": [(EVENTS, "location")],
        "user_agent": [(EVENTS, "useragent")],
        "source_key": [(EVENTS, "source_key")],
    },
    "One play per row: a 'NextSong' event by a logged-in user, held once however many lake "
    "objects carry it, with the catalogue's song_id and artist_id when the catalogue holds the "
    "exact song (title, artist, duration; mis-encoded text repaired).",
)
