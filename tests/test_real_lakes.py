"""A lake as real ones are: a day delivered gzip-compressed, a day whose records drifted from
the JSONPaths, an empty object and a `_SUCCESS` marker. Every event it holds loads, and one run
names each of those things: the staging asset's metadata, its warning checks, and the sensor."""

from __future__ import annotations

import gzip
import json

import pytest
from dagster import AssetCheckSeverity, DagsterInstance, build_sensor_context

from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.resources.lake import Lake
from sparkify_assets.resources.lake_objects import EMPTY, MARKER
from sparkify_assets.sensors import lake_sensors
from tests.support import (
    add_day,
    assert_matches_reference,
    markdown_rows,
    metadata_of,
    read_table,
    run_graph,
    upload,
)

GZIP_DAY = "log_data/2018/12/2018-12-03-events.json.gz"
DRIFTED_DAY = "log_data/2018/12/2018-12-04-events.json"
EMPTY_OBJECT = "log_data/2018/12/2018-12-05-events.json"
SUCCESS_MARKER = "log_data/2018/12/_SUCCESS"
RENAMED = 10  # records of the drifted day with session_id for sessionId
ISO_TS = 5  # records of the drifted day with ts as an ISO string


def real_lake(lake_dir) -> dict[str, int]:
    """Add the four things to the generated lake; return the records of each new day."""
    plain = lake_dir / add_day(lake_dir, 33)  # 2018-12-03
    (lake_dir / GZIP_DAY).write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    drifted = lake_dir / add_day(lake_dir, 34)  # 2018-12-04
    records = [json.loads(line) for line in drifted.read_text(encoding="utf-8").splitlines()]
    for n, record in enumerate(records):
        record["device"] = "ios"  # a key the app began to send
        if n < RENAMED:
            record["session_id"] = record.pop("sessionId")
        elif n < RENAMED + ISO_TS:
            record["ts"] = "2018-12-04T10:00:00Z"
    drifted.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (lake_dir / EMPTY_OBJECT).write_bytes(b"")
    (lake_dir / SUCCESS_MARKER).write_bytes(b"")
    day_records = gzip.decompress((lake_dir / GZIP_DAY).read_bytes()).count(b"\n")
    return {GZIP_DAY: day_records, DRIFTED_DAY: len(records)}


@pytest.mark.parametrize("lake_kind", ["folder", "s3"])
def test_a_real_lake_loads_every_event_and_one_run_names_what_is_odd(
    warehouse, lake_dir, lake_kind, request
):
    day_records = real_lake(lake_dir)
    url, options = str(lake_dir), {}
    if lake_kind == "s3":
        url = request.getfixturevalue("s3_lake")
        upload(request.getfixturevalue("s3_client"), lake_dir, url)
        options = {"s3_endpoint_url": request.getfixturevalue("s3_endpoint")}

    result = run_graph(warehouse, url, **options)

    # Every event the lake holds is staged or rejected with its reason, and every table is what
    # the reference computes, the gzip day's plays in songplays included.
    assert_matches_reference(warehouse, lake_dir)
    events = read_table(warehouse, "staging_events")
    assert sum(row[18] == GZIP_DAY for row in events) == day_records[GZIP_DAY]
    drifted_rows = sum(row[18] == DRIFTED_DAY for row in events)
    assert drifted_rows == day_records[DRIFTED_DAY] - RENAMED - ISO_TS
    assert any(row[-1] == GZIP_DAY for row in read_table(warehouse, "songplays"))

    metadata = metadata_of(result, "staging_events")
    # The objects that are not data, counted and named with why.
    assert metadata["not_data_objects"] == 2
    header, skipped = markdown_rows(metadata["not_data_sample"])
    assert header == ["object_key", "size", "reason"]
    assert skipped == [[EMPTY_OBJECT, "0", EMPTY], [SUCCESS_MARKER, "0", MARKER]]
    # The drift: a key that appeared, a key renamed (one gone, one come), each with its count
    # and first object.
    header, drift = markdown_rows(metadata["schema_drift"])
    assert header == ["json_key", "drift", "records", "first_object"]
    assert drift == [
        ["device", "unmapped", str(day_records[DRIFTED_DAY]), DRIFTED_DAY],
        ["sessionId", "missing", str(RENAMED), DRIFTED_DAY],
        ["session_id", "unmapped", str(RENAMED), DRIFTED_DAY],
    ]
    assert metadata["drifted_keys"] == 3
    # A field whose type changed: one line of the rejects by reason.
    header, by_reason = markdown_rows(metadata["rejects_by_reason"])
    assert header == ["reason", "records", "first_object"]
    assert ["missing sessionId", str(RENAMED), DRIFTED_DAY] in by_reason
    assert ["ts: not a whole number that fits BIGINT", str(ISO_TS), DRIFTED_DAY] in by_reason

    # Both as warnings in the same run: the run succeeds, and the checks say what and where.
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }
    skipped_check = checks[("staging_events", "no_skipped_objects")]
    drift_check = checks[("staging_events", "no_schema_drift")]
    for check in (skipped_check, drift_check):
        assert not check.passed and check.severity == AssetCheckSeverity.WARN
    assert skipped_check.metadata["failing_rows"].value == 2
    assert drift_check.metadata["failing_rows"].value == 3
    assert "session_id" in drift_check.metadata["failing_sample"].value
    for name in ("no_skipped_objects", "no_schema_drift"):
        assert checks[("staging_songs", name)].passed  # the song side holds neither

    # Loaded and nothing odd added: the next run names the same objects, and no drift is new.
    again = metadata_of(run_graph(warehouse, url, **options), "staging_events")
    assert again["objects_loaded"] == 0 and again["not_data_objects"] == 2
    assert "schema_drift" not in again


def test_the_sensor_loads_a_gzip_day_and_names_a_marker_without_a_run(duckdb_warehouse, lake_dir):
    lake = Lake(url=str(lake_dir))
    (sensor,) = [s for s in lake_sensors(ALL_ASSETS) if s.name == "log_data_sensor"]
    run_graph(duckdb_warehouse, lake_dir)
    with DagsterInstance.ephemeral() as instance:

        def tick(cursor):
            resources = {"warehouse": duckdb_warehouse, "lake": lake}
            return sensor(build_sensor_context(instance, cursor=cursor, resources=resources))

        cursor = tick(None).cursor
        (lake_dir / SUCCESS_MARKER).parent.mkdir(parents=True)
        (lake_dir / SUCCESS_MARKER).write_bytes(b"")
        marked = tick(cursor)
        assert not marked.run_requests  # a marker is no data: no run...
        assert SUCCESS_MARKER in marked.skip_reason.skip_message  # ...but named, with why
        assert f"{SUCCESS_MARKER} [{MARKER}]" in marked.skip_reason.skip_message

        real_lake(lake_dir)
        (request,) = tick(marked.cursor).run_requests
        assert request.tags["sparkify/first_new_object"] == GZIP_DAY
        assert request.tags["sparkify/new_objects"] == "2"  # the gzip day and the drifted day
