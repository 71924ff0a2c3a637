"""The star schema: dimensions users, songs, artists, time and the fact songplays.

Each table's meaning and merge live in `sql/<table>.sql`. A run takes in only the staging rows of
load batches the table has not seen (its watermark in `load_state`), merges them in one
transaction, and moves the watermark in the same transaction: a failed run changes nothing, and a
rerun with nothing new changes nothing. `full_refresh` empties the table and takes in everything.
"""

from collections.abc import Mapping, Sequence

from dagster import AssetExecutionContext, MaterializeResult, asset

from sparkify_assets import sql_files
from sparkify_assets.assets.metadata import table_metadata
from sparkify_assets.assets.staging import LoadConfig
from sparkify_assets.resources.warehouse import WAREHOUSE_STEP, Warehouse

Lineage = Mapping[str, Sequence[tuple[str, str]]]
EVENTS, SONGS = "staging_events", "staging_songs"


def _open_window(session, table: str, source: str, full_refresh: bool) -> tuple[int, int, int]:
    """Stage `source`'s batches that `table` has not taken in as temp table `new_<source>`.

    Returns (after, up_to, rows replaced by those loads): the window is (after, up_to].
    """
    state = session.fetch_section("load_state", "get", {"consumer": table, "source": source})
    after = 0 if full_refresh or not state else state[0][0]
    (up_to,) = session.fetch_section(source, "latest_batch")[0]
    window = {"table_name": source, "after_batch": after, "up_to_batch": up_to}
    session.run(source, "new_rows", window)
    (replaced,) = session.fetch_section("load_batches", "rows_replaced", window)[0]
    return after, up_to, replaced


def merge(
    context: AssetExecutionContext,
    table: str,
    sources: Sequence[str],
    config: LoadConfig,
    warehouse: Warehouse,
    lineage: Lineage,
) -> MaterializeResult:
    """Merge the new staging batches of `sources` into star `table`."""
    with warehouse.session() as session:
        for name in ("load_state", "load_batches", *sources, table):
            session.create_table(name)
        session.lock(table)  # before reading the watermark: a concurrent run waits, then sees ours
        if config.full_refresh:
            session.execute(f'DELETE FROM "{table}"')
        windows = {s: _open_window(session, table, s, config.full_refresh) for s in sources}
        sections = ["merge"]
        # A changed object may have taken rows away: drop what has no source any more. That
        # costs a pass over the table, so only when a load in the window replaced rows.
        if any(replaced for _a, _u, replaced in windows.values()) and "prune" in sql_files.sections(
            table
        ):
            sections.append("prune")
        inserted = deleted = 0
        for section in sections:
            kinds = sql_files.statement_kinds(table, section)
            for kind, count in zip(kinds, session.run(table, section), strict=True):
                inserted += count if kind == "insert" else 0
                deleted += count if kind == "delete" else 0
        if inserted or deleted:
            session.analyze(table)
        for source, (_after, up_to, _replaced) in windows.items():
            state = {"consumer": table, "source": source, "load_batch": up_to}
            session.run("load_state", "set", state)
        context.log.info(
            f"{table}: took in load batches "
            + ", ".join(f"{s} ({a}, {u}]" for s, (a, u, _r) in windows.items())
            + f"; {inserted} row(s) written, {deleted} deleted or replaced"
        )
        metadata = table_metadata(
            session, table, lineage, rows_added=inserted - deleted, rows_changed=deleted
        )
    return MaterializeResult(metadata=metadata)


@asset(**WAREHOUSE_STEP, group_name="star", deps=[EVENTS], kinds={"sql"})
def users(context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse):
    """One row per user (non-empty userId seen in any event), as of the user's latest event:
    name, gender and current level (free or paid; users move between the two)."""
    column_from_event = {
        "user_id": "userid",
        "first_name": "firstname",
        "last_name": "lastname",
        "gender": "gender",
        "level": "level",
        "last_seen_at": "ts",
    }
    lineage = {c: [(EVENTS, e)] for c, e in column_from_event.items()}
    return merge(context, "users", [EVENTS], config, warehouse, lineage)


@asset(**WAREHOUSE_STEP, group_name="star", deps=[SONGS], kinds={"sql"})
def songs(context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse):
    """One row per song in the catalogue (song_id): title, artist, year (0 = unknown), duration
    in seconds."""
    lineage = {c: [(SONGS, c)] for c in ("song_id", "title", "artist_id", "year", "duration")}
    return merge(context, "songs", [SONGS], config, warehouse, lineage)


@asset(**WAREHOUSE_STEP, group_name="star", deps=[SONGS], kinds={"sql"})
def artists(context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse):
    """One row per artist in the catalogue (artist_id): name, location and coordinates, taken
    from the most complete of the artist's song records."""
    column_from_song = {
        "artist_id": "artist_id",
        "name": "artist_name",
        "location": "artist_location",
        "latitude": "artist_latitude",
        "longitude": "artist_longitude",
    }
    lineage = {c: [(SONGS, s)] for c, s in column_from_song.items()}
    return merge(context, "artists", [SONGS], config, warehouse, lineage)


@asset(**WAREHOUSE_STEP, name="time", group_name="star", deps=[EVENTS], kinds={"sql"})
def play_times(context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse):
    """One row per distinct play time (songplays.start_time, UTC, with milliseconds): hour, day
    of month, ISO week, month, year and weekday (0 = Sunday)."""
    parts = ("start_time", "hour", "day", "week", "month", "year", "weekday")
    lineage = {c: [(EVENTS, "ts")] for c in parts}
    return merge(context, "time", [EVENTS], config, warehouse, lineage)


@asset(
    **WAREHOUSE_STEP,
    group_name="star",
    deps=[EVENTS, SONGS, users, play_times, songs, artists],
    kinds={"sql"},
)
def songplays(context: AssetExecutionContext, config: LoadConfig, warehouse: Warehouse):
    """One row per song play: a 'NextSong' event by a logged-in user, with the catalogue's
    song_id and artist_id when the catalogue holds the exact song (title, artist, duration)."""
    lineage = {
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
    }
    return merge(context, "songplays", [EVENTS, SONGS], config, warehouse, lineage)
