"""The lake sensors, against a real S3 server (moto's server mode, over HTTP) and a folder.

A tick is evaluated as the daemon evaluates it (`build_sensor_context` with the cursor the
previous tick left); the run it asks for is executed with `materialize` on the project's assets,
and what is downstream follows by the assets' automation conditions, evaluated by Dagster as its
automation sensor does.
"""

import json
import time

from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    build_sensor_context,
    materialize,
)
from dagster_aws.s3.sensor import get_objects

from sparkify_assets.checks import build_checks
from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.event_days import RANGE_END_TAG, RANGE_START_TAG
from sparkify_assets.generate import generate_lake
from sparkify_assets.lake_scan import Cursor
from sparkify_assets.resources.lake import Lake
from sparkify_assets.sensors import lake_sensors
from tests.support import (
    EARLY_SONG,
    Automation,
    add_day,
    held_by_another_process,
    put,
    read_table,
    record_loaded,
    run_graph,
    song,
    split_s3_url,
)

SENSORS = {s.name: s for s in lake_sensors(ALL_ASSETS)}
EVENTS_SELECTION = {"staging_events"}
SONGS_SELECTION = {"staging_songs"}
# What automation requests once a run of each staging asset has loaded something.
AFTER_EVENTS = {"users", "time", "songplays", "analytics_report"}
AFTER_SONGS = {"songs", "artists", "songplays", "analytics_report"}
SMALL = {"songs": 30, "users": 10, "events_per_day": 150, "seed": 7}


class Ticker:
    """One sensor, evaluated tick after tick from the cursor the previous tick left."""

    def __init__(self, name: str, instance, warehouse, lake: Lake):
        self.sensor = SENSORS[name]
        self.instance = instance
        self.resources = {"warehouse": warehouse, "lake": lake}
        self.cursor: str | None = None
        self.requested: set[str] = set()  # the keys the last tick asked to load
        self.observed: list = []  # what the last tick recorded on the lake asset

    def evaluate(self, cursor: str | None):
        context = build_sensor_context(
            instance=self.instance, cursor=cursor, resources=self.resources
        )
        return self.sensor(context)

    def tick(self) -> list[RunRequest]:
        result = self.evaluate(self.cursor)
        self.observed = list(result.asset_events or [])
        before = Cursor.parse(self.cursor).pending
        self.cursor = result.cursor if result.cursor is not None else self.cursor
        after = Cursor.parse(self.cursor).pending
        self.requested = {key for key, entry in after.items() if before.get(key) != entry}
        return list(result.run_requests or [])

    def run(self, request: RunRequest) -> None:
        """Execute the requested run as the daemon would launch it."""
        result = materialize(
            [*ALL_ASSETS, *build_checks()],
            selection=request.asset_selection,
            resources=self.resources,
            instance=self.instance,
            tags=request.tags,
        )
        assert result.success
        assert result.get_asset_check_evaluations()  # the selected assets' checks ran too


def names(request: RunRequest) -> set[str]:
    return {key.to_user_string() for key in request.asset_selection}


def snapshot(warehouse) -> dict[str, set[tuple]]:
    return {
        t: set(read_table(warehouse, t)) for t in ("staging_events", "staging_songs", "songplays")
    }


def arrived(before, after, table) -> set[tuple]:
    return after[table] - before[table]


def source_keys(rows, position: int) -> set[str]:
    return {row[position] for row in rows}


def test_ticks_request_exactly_what_is_new_and_runs_load_only_that(
    s3_endpoint, s3_lake, s3_client, duckdb_warehouse
):
    generate_lake(s3_lake, **SMALL, days=1, endpoint_url=s3_endpoint)
    lake = Lake(url=s3_lake, s3_endpoint_url=s3_endpoint)
    with DagsterInstance.ephemeral() as instance:
        events = Ticker("log_data_sensor", instance, duckdb_warehouse, lake)
        songs = Ticker("song_data_sensor", instance, duckdb_warehouse, lake)
        # An empty warehouse: everything in the lake is new.
        for ticker, prefix in ((events, "log_data/"), (songs, "song_data/")):
            (request,) = ticker.tick()
            assert ticker.requested == {o.key for o in lake.list_objects(prefix)}
        # The first load builds every table (analytics_report needs both sides of the star).
        run_graph(duckdb_warehouse, s3_lake, s3_endpoint_url=s3_endpoint, instance=instance)
        automation = Automation(instance, duckdb_warehouse, lake)
        automation.follow()  # its first ticks see that first load
        assert automation.tick() == set()
        assert events.tick() == [] and songs.tick() == []
        assert Cursor.parse(events.cursor).pending == {} == Cursor.parse(songs.cursor).pending

        # A new day: one run of staging_events for that day, then what is downstream of it.
        day2 = add_day(s3_lake, 2, SMALL, s3_endpoint)
        previous = events.cursor
        (request,) = events.tick()
        assert names(request) == EVENTS_SELECTION
        assert events.requested == {day2}
        assert request.tags["sparkify/new_objects"] == "1"
        assert request.tags[RANGE_START_TAG] == request.tags[RANGE_END_TAG] == "2018-11-02"
        # The tick records the arrival on the lake asset log_data's day, for the UI.
        (observed,) = events.observed
        seen = {k: v.value for k, v in observed.metadata.items()}
        (day2_object,) = [o for o in lake.list_objects("log_data/") if o.key == day2]
        assert observed.asset_key.to_user_string() == "log_data"
        assert observed.partition == "2018-11-02"
        assert seen["objects_arrived"] == 1 and seen["newest_key"] == day2
        assert seen["bytes_arrived"] == day2_object.size > 0
        assert seen["objects_listed"] >= 1
        assert abs(seen["dagster/last_updated_timestamp"] - time.time()) < 60
        assert songs.tick() == [] and songs.observed == []
        assert events.tick() == []  # requested already: not again
        # The same tick evaluated twice asks for the same run key: Dagster launches it once.
        (again,) = events.evaluate(previous).run_requests
        assert again.run_key == request.run_key

        before = snapshot(duckdb_warehouse)
        events.run(request)
        assert automation.follow() == [AFTER_EVENTS]
        after = snapshot(duckdb_warehouse)
        assert source_keys(arrived(before, after, "staging_events"), -2) == {day2}
        assert source_keys(arrived(before, after, "songplays"), -1) == {day2}
        assert all(before[t] <= after[t] for t in before)

        # Another day, a song file rewritten and one whose key sorts before every key seen.
        day3 = add_day(s3_lake, 3, SMALL, s3_endpoint)
        bucket, root = split_s3_url(s3_lake)
        song_keys = [o.key for o in lake.list_objects("song_data/")]
        changed_key = song_keys[len(song_keys) // 2]
        record = json.loads(
            s3_client.get_object(Bucket=bucket, Key=root + changed_key)["Body"].read()
        )
        record["year"] = 1999  # a new version that changes no song match
        put(s3_client, s3_lake, changed_key, json.dumps(record).encode("utf-8"))
        put(s3_client, s3_lake, EARLY_SONG, song("SOEARLY0000000001", "First Of All"))

        (events_request,) = events.tick()
        assert events.requested == {day3}
        (songs_request,) = songs.tick()
        assert names(songs_request) == SONGS_SELECTION
        assert songs.requested == {changed_key, EARLY_SONG}

        before = snapshot(duckdb_warehouse)
        events.run(events_request)
        songs.run(songs_request)
        assert automation.follow() == [AFTER_EVENTS | AFTER_SONGS]  # one run for both
        after = snapshot(duckdb_warehouse)
        assert source_keys(arrived(before, after, "staging_events"), -2) == {day3}
        assert source_keys(arrived(before, after, "staging_songs"), -2) == {changed_key, EARLY_SONG}
        assert source_keys(before["staging_songs"] - after["staging_songs"], -2) == {changed_key}
        assert before["staging_events"] <= after["staging_events"]
        assert source_keys(arrived(before, after, "songplays"), -1) == {day3}
        assert events.tick() == [] and songs.tick() == []


def test_a_rewritten_object_hides_nothing(s3_endpoint, s3_lake, s3_client, duckdb_warehouse):
    """dagster-aws's `since_key` cursor misses what is written between two writes of the cursor
    object (dagster issue 22892); the sensor's cursor does not."""
    generate_lake(s3_lake, **SMALL, days=0, endpoint_url=s3_endpoint)
    lake = Lake(url=s3_lake, s3_endpoint_url=s3_endpoint)
    bucket, root = split_s3_url(s3_lake)
    latest = "song_data/Z/Z/Z/TRZZZLATEST00001.json"
    with DagsterInstance.ephemeral() as instance:
        songs = Ticker("song_data_sensor", instance, duckdb_warehouse, lake)
        time.sleep(1.1)  # S3's LastModified has a resolution of a second
        put(s3_client, s3_lake, latest, song("SOLATEST000000001", "Latest"))
        songs.tick()
        # As if the requested run had loaded everything listed.
        record_loaded(duckdb_warehouse, "staging_songs", list(lake.list_objects("song_data/")))
        assert songs.tick() == []
        since_key = root + latest  # dagster-aws's cursor: the newest key processed

        time.sleep(1.1)
        put(s3_client, s3_lake, EARLY_SONG, song("SOEARLY0000000001", "Early"))
        time.sleep(1.1)
        put(s3_client, s3_lake, latest, song("SOLATEST000000001", "Latest, remastered"))

        missed = get_objects(bucket, root + "song_data/", since_key=since_key, client=s3_client)
        assert missed == []  # issue 22892: neither the new object nor the rewrite
        (request,) = songs.tick()
        assert songs.requested == {EARLY_SONG, latest}


def test_folder_markers_empty_and_non_json_objects_are_not_data(
    s3_endpoint, s3_lake, s3_client, duckdb_warehouse
):
    for key, body in (
        ("song_data/", b""),
        ("song_data/A/", b""),
        ("song_data/A/A/A/empty.json", b""),
        ("song_data/A/A/A/README.txt", b"not data"),
        ("song_data/A/A/A/log_json_path.json", b'{"jsonpaths": []}'),
    ):
        put(s3_client, s3_lake, key, body)
    lake = Lake(url=s3_lake, s3_endpoint_url=s3_endpoint)
    with DagsterInstance.ephemeral() as instance:
        songs = Ticker("song_data_sensor", instance, duckdb_warehouse, lake)
        assert songs.tick() == []
        put(s3_client, s3_lake, "song_data/A/A/A/TRAAA0000000001.json", song("SOONE", "One"))
        (request,) = songs.tick()
        assert songs.requested == {"song_data/A/A/A/TRAAA0000000001.json"}


def test_sensors_work_on_a_folder_lake(lake_dir, built_duckdb_copy):
    """What `dagster dev` shows on the embedded default when the generator writes a new day."""
    lake = Lake(url=str(lake_dir))
    with DagsterInstance.ephemeral() as instance:
        events = Ticker("log_data_sensor", instance, built_duckdb_copy, lake)
        songs = Ticker("song_data_sensor", instance, built_duckdb_copy, lake)
        assert events.tick() == [] and songs.tick() == []
        day = add_day(lake_dir, 4, SMALL)
        (request,) = events.tick()
        assert events.requested == {day} and names(request) == EVENTS_SELECTION
        events.run(request)
        assert events.tick() == [] and songs.tick() == []
        assert read_table(built_duckdb_copy, "staging_events")[-1][-2] == day


def test_a_tick_skips_while_a_run_holds_the_duckdb_file(lake_dir, duckdb_warehouse):
    with duckdb_warehouse.session():
        pass  # the database file exists
    with held_by_another_process(duckdb_warehouse.path):
        with DagsterInstance.ephemeral() as instance:
            events = Ticker("log_data_sensor", instance, duckdb_warehouse, Lake(url=str(lake_dir)))
            result = events.evaluate("{}")
        assert "a run holds the warehouse" in result.skip_reason.skip_message
        assert result.cursor is None  # the cursor stays where it was


def test_sensors_load_into_definitions_with_their_defaults(duckdb_warehouse):
    defs = Definitions(
        assets=ALL_ASSETS,
        sensors=lake_sensors(ALL_ASSETS),
        resources={"warehouse": duckdb_warehouse, "lake": Lake()},
    )
    Definitions.validate_loadable(defs)
    events = defs.resolve_sensor_def("log_data_sensor")
    songs = defs.resolve_sensor_def("song_data_sensor")
    assert events.default_status == songs.default_status == DefaultSensorStatus.RUNNING
    assert (events.minimum_interval_seconds, songs.minimum_interval_seconds) == (120, 300)
