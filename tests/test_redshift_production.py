"""The Redshift engine against what production has and the stand-in models: a lake the loader may
only read, a temp location of its own, readers that must never wait for a load, real event logs
(integral floats, empty strings) COPYed in place, a record over COPY's 4 MB limit, IAM login in
another region than the lake, keepalives and sessions that must not wait."""

from __future__ import annotations

import gzip
import json
import threading
import time

import boto3
import pytest
from dagster import DagsterInstance, build_sensor_context

from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.load_protocol import locked, reading, staging_locks
from sparkify_assets.resources.engines import redshift as redshift_engine
from sparkify_assets.resources.engines.base import Finding, WarehouseBusy
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.engines.json_records import MAX_RECORD_BYTES
from sparkify_assets.resources.engines.redshift_drift import SAMPLE_BYTES
from sparkify_assets.resources.engines.redshift_temp import split_temp_uri
from sparkify_assets.resources.lake import Lake
from sparkify_assets.sensors import lake_sensors
from tests.support import STAR_TABLES, read_table, run_graph
from tests.test_engines_redshift import STAGING, redshift_warehouse, staged_rows, sync

pytest_plugins = ("tests.redshift_standin.fixtures",)


@pytest.fixture
def s3_url(redshift_standin, aws_credentials) -> str:
    return f"s3://{redshift_standin.bucket}/lake"


def temp_objects(standin) -> list[str]:
    bucket, prefix = split_temp_uri(standin.temp_uri)
    s3 = boto3.client("s3", endpoint_url=standin.s3_endpoint)
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def test_real_logs_copy_in_place_from_a_read_only_lake(
    redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir, tmp_path
):
    """Every event object COPYed in place (registration 1540991795796.0, empty userIds; a day
    gzipped; a day whose events gained a key): the process reads none whole, writes nothing into
    the lake, leaves its temp location empty, sees the new key in the head it samples, and
    staging equals DuckDB's."""
    days = sorted((lake_dir / "log_data").rglob("*.json"))
    days[0].with_name(days[0].name + ".gz").write_bytes(gzip.compress(days[0].read_bytes()))
    days[0].unlink()
    drifted = [json.loads(line) for line in days[2].read_text(encoding="utf-8").splitlines()]
    days[2].write_text("".join(json.dumps({**e, "device": "ios"}) + "\n" for e in drifted), "utf-8")
    event_objects = len(days)
    warehouse = redshift_warehouse(redshift_standin, monkeypatch, copy_min_object_bytes=0)
    sync(lake_dir, s3_url, s3_endpoint)
    run_graph(warehouse, s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)

    lake = f"/{redshift_standin.bucket}"  # path-style: a listing's path is the bucket's alone
    asked = [(m, p) for m, p in redshift_standin.lake_requests if f"{p}/".startswith(f"{lake}/")]
    assert asked and all(method in ("GET", "HEAD") for method, _ in asked)
    assert not [p for _m, p in asked if "/log_data/" in p]  # listed, never read whole here
    heads = [p for p in redshift_standin.lake_heads if "/log_data/" in p]  # sampled for drift
    assert len(heads) == len(set(heads)) == event_objects
    assert temp_objects(redshift_standin) == []
    copies = [s for s in redshift_standin.sent if s.lstrip().startswith("COPY")]
    in_place = [c for c in copies if '"staging_events_copy"' in c and "NOLOAD" not in c]
    assert len(in_place) == event_objects
    assert sum("GZIP" in c for c in in_place) == 1
    assert all("STATUPDATE" not in c for c in copies)  # it needs the table's owner

    duckdb = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    run_graph(duckdb, lake_dir)
    for table in (*STAR_TABLES, *STAGING):
        assert staged_rows(warehouse, table, False) == staged_rows(duckdb, table, False), table
    (whole,) = read_table(duckdb, "schema_drift")
    assert whole[1:4] == ("device", "unmapped", len(drifted))
    (sampled,) = read_table(warehouse, "schema_drift")
    # the same key, kind and first object; counted in the whole lines of the object's head
    head_lines = days[2].read_bytes()[:SAMPLE_BYTES].count(b"\n")
    assert 0 < head_lines < len(drifted)
    assert sampled == (*whole[:3], head_lines, *whole[4:])


def test_a_record_over_copys_4_mb_limit_is_one_reject(
    redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir, tmp_path
):
    """Redshift fails a whole COPY for one JSON record over 4 MB, and that aborts the load's
    transaction: the object is checked first, then parsed here, and the record is one reject."""
    day = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    lines = day.read_text(encoding="utf-8").splitlines()
    huge = json.dumps({**json.loads(lines[0]), "userAgent": "x" * (MAX_RECORD_BYTES + 10)})
    day.write_text("\n".join([lines[0], huge, *lines[1:]]) + "\n", encoding="utf-8")
    warehouse = redshift_warehouse(redshift_standin, monkeypatch, copy_min_object_bytes=0)
    sync(lake_dir, s3_url, s3_endpoint)
    run_graph(
        warehouse, s3_url, max_reject_rate=1.0, s3_endpoint_url=redshift_standin.lake_endpoint
    )
    rejects = read_table(warehouse, "staging_rejects")
    assert [(r[2], r[3]) for r in rejects] == [(2, f"record longer than {MAX_RECORD_BYTES} bytes")]
    duckdb = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    run_graph(duckdb, lake_dir, max_reject_rate=1.0)
    assert rejects == read_table(duckdb, "staging_rejects")
    for table in ("staging_events", *STAR_TABLES):
        assert staged_rows(warehouse, table, False) == staged_rows(duckdb, table, False), table


def test_readers_never_wait_for_a_load_and_a_sensor_tick_sees_it(
    redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir
):
    warehouse = redshift_warehouse(redshift_standin, monkeypatch)
    sync(lake_dir, s3_url, s3_endpoint)
    run_graph(warehouse, s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
    expected = len(read_table(warehouse, "staging_events"))
    assert not warehouse.busy()
    holding, release = threading.Event(), threading.Event()

    def load() -> None:  # a staging load's transaction, held open at its lock
        with locked(warehouse, staging_locks("staging_events")) as session:
            session.run("staging_events", "delete_all")
            holding.set()
            release.wait(60)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        assert holding.wait(30)
        started = time.monotonic()
        assert warehouse.busy()
        lake = Lake(url=s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
        with DagsterInstance.ephemeral() as instance:  # a tick as the daemon evaluates it
            (sensor,) = [s for s in lake_sensors(ALL_ASSETS) if s.name == "log_data_sensor"]
            tick = sensor(
                build_sensor_context(
                    instance=instance, cursor="{}", resources={"warehouse": warehouse, "lake": lake}
                )
            )
        assert "a run holds the warehouse" in tick.skip_reason.skip_message
        assert tick.cursor is None
        with reading(warehouse, ("staging_events", "songplays"), wait=False) as session:
            # the last committed state, not the load's uncommitted delete
            assert session.count("staging_events") == expected
            assert session.count("songplays") > 0
        assert time.monotonic() - started < 5
    finally:
        release.set()
        loader.join(60)
    assert not warehouse.busy()
    assert len(read_table(warehouse, "staging_events")) == 0  # the load committed


def test_a_session_that_must_not_wait_gives_up_and_every_session_has_keepalives(
    redshift_standin, monkeypatch
):
    warehouse = redshift_warehouse(redshift_standin, monkeypatch)
    connected: list[dict] = []

    def connect(**kwargs):
        connected.append(kwargs)
        return redshift_standin.connect(**kwargs)

    monkeypatch.setattr(redshift_engine, "psycopg2_connect", connect)
    with warehouse.session(wait=False) as session:
        assert session.query_text("SHOW statement_timeout")[1] == [("10s",)]
    with warehouse.session() as session:
        assert session.query_text("SHOW statement_timeout")[1] == [("0",)]
    assert all(c["keepalives"] == 1 and c["keepalives_idle"] > 0 for c in connected)
    warehouse.ensure_tables(["songplays"])
    with warehouse.session() as holder:
        holder.execute("LOCK songplays")  # what an analyst's own LOCK would do
        with pytest.raises(WarehouseBusy):
            with warehouse.session(wait=False) as reader:
                reader.count("songplays")


@pytest.mark.parametrize(
    "host, region",
    [
        ("sparkify.abc123xyz.eu-central-1.redshift.amazonaws.com", "eu-central-1"),
        ("sparkify.123456789012.us-gov-west-1.redshift-serverless.amazonaws.com", "us-gov-west-1"),
        ("warehouse.internal.example.com", None),
    ],
)
def test_iam_login_region_comes_from_the_endpoint_not_the_bucket(host, region):
    settings = {"iam_role_arn": "arn:aws:iam::1:role/r", "temp_uri": "s3://t/p"}
    warehouse = redshift_engine.RedshiftWarehouse(host=host, aws_region="us-west-2", **settings)
    assert warehouse.login_region == region
    explicit = redshift_engine.RedshiftWarehouse(
        host=host, aws_region="us-west-2", redshift_region="ap-south-1", **settings
    )
    assert explicit.login_region == "ap-south-1"


def test_iam_login_finds_a_cluster_in_another_region_than_the_lake(
    redshift_standin, s3_endpoint, aws_credentials, monkeypatch
):
    api = boto3.client("redshift", endpoint_url=s3_endpoint, region_name="eu-central-1")
    api.create_cluster(
        ClusterIdentifier="elsewhere",
        NodeType="ra3.xlplus",
        MasterUsername="admin",
        MasterUserPassword="Admin-pw-1",
    )
    warehouse = redshift_warehouse(
        redshift_standin,
        monkeypatch,
        password=None,
        cluster_identifier="elsewhere",
        aws_endpoint_url=s3_endpoint,
        host="elsewhere.abc123.eu-central-1.redshift.amazonaws.com",
    )
    user, password = redshift_engine.temporary_login(warehouse)
    assert user.startswith("IAM:") and password


def test_preflight_names_a_temp_location_it_cannot_write_and_a_check_that_errors(
    redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir
):
    sync(lake_dir, s3_url, s3_endpoint)
    read_only = f"s3://{redshift_standin.bucket}/elsewhere"  # the lake's bucket: 403 on writes
    warehouse = redshift_warehouse(redshift_standin, monkeypatch, temp_uri=read_only)
    lake = Lake(url=s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
    findings = warehouse.preflight(lake, {"staging_events": "log_data/x.json"})
    (temp,) = [f for f in findings if f.check == "temp location"]
    assert not temp.passed and "cannot write to" in temp.detail and "AccessDenied" in temp.detail

    def boom() -> tuple[bool, str]:
        raise RuntimeError(f"broken for {redshift_standin.password}")

    finding = warehouse.checked("a check", boom)
    assert finding == Finding("a check", False, "RuntimeError: broken for ***")
