"""The star schema: dimensions users, songs, artists, time and the fact songplays.

Each table's meaning and merge live in `sql/<table>.sql`; which staging batches a run takes in,
and the watermarks that remember it, in load_protocol.py. `full_refresh` empties the table and
takes in everything.
"""

from collections.abc import Mapping, Sequence

from dagster import AssetExecutionContext, MaterializeResult, asset

from sparkify_assets import load_protocol
from sparkify_assets.assets.staging import LoadConfig
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
) -> MaterializeResult:
    """Merge the new staging batches of `sources` into star `table`."""
    writes, reads = load_protocol.star_locks(table, sources)
    with load_protocol.locked(warehouse, writes, reads) as session:
        done = load_protocol.merge(session, table, sources, config.full_refresh)
        context.log.info(
            f"{table}: took in load batches {', '.join(map(str, done.windows))}; "
            f"{done.rows_written} row(s) written, {done.rows_deleted} deleted or replaced"
        )
        metadata = table_metadata(
            session,
            table,
            lineage,
            rows_added=done.rows_written - done.rows_deleted,
            rows_changed=done.rows_deleted,
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
