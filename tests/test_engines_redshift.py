"""The Redshift engine, run for real on a stand-in (tests/redshift_standin): its own statements on
PostgreSQL at serializable isolation, COPY executed as Redshift documents it from a moto S3 server,
and a guard that refuses what Redshift does not accept.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3
import pytest
import sqlglot
from sqlglot import exp

from sparkify_assets import sql_files
from sparkify_assets.preflight_checks import run_preflight
from sparkify_assets.resources.engines import redshift as redshift_engine
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.engines.redshift import RedshiftWarehouse
from sparkify_assets.resources.lake import Lake
from tests.redshift_standin import guard
from tests.support import PG, STAR_TABLES, read_table, run_graph, service_unavailable

pytest_plugins = ("tests.redshift_standin.fixtures",)

STAGING = ("staging_events", "staging_songs", "staging_rejects")
# Over 256 characters: longer than stl_load_errors.filename (CHAR(256)) holds.
LONG_KEY = "log_data/2018/11/" + "a-folder-with-a-long-name/" * 10 + "2018-11-02-events.json"


def sync(folder: Path, url: str, endpoint: str) -> None:
    """Make the S3 lake at `url` hold exactly the files of `folder` (changed ones rewritten)."""
    bucket, prefix = url[5:].split("/", 1)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    present = {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    }
    wanted = set()
    for path in folder.rglob("*"):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            wanted.add(key)
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    for key in present - wanted:
        s3.delete_object(Bucket=bucket, Key=key)


def redshift_warehouse(standin, monkeypatch, **settings) -> RedshiftWarehouse:
    standin.install(monkeypatch, redshift_engine)
    return RedshiftWarehouse(
        **{
            "host": standin.host,
            "port": standin.port,
            "database": standin.database,
            "user": standin.user,
            "password": standin.password,
            "sslmode": "disable",
            "iam_role_arn": standin.iam_role_arn,
            "aws_region": standin.region,
            "temp_uri": standin.temp_uri,
            **settings,
        }
    )


@pytest.fixture
def s3_url(redshift_standin, aws_credentials) -> str:
    return f"s3://{redshift_standin.bucket}/lake"


def staged_rows(warehouse, table: str, lines: bool) -> list[tuple]:
    """A staging table's rows; without `lines`, the line column left out (COPY cannot say it)."""
    rows = read_table(warehouse, table)
    if lines or table not in ("staging_events", "staging_songs"):
        return rows
    position = [c.name for c in sql_files.columns(table)].index("source_line")
    return sorted((r[:position] + r[position + 1 :] for r in rows), key=repr)


def add_bad_events(lake_dir: Path) -> None:
    """A day moved to a key over 256 characters, with userIds Redshift's COPY would take as
    text, a ts no engine can turn into a timestamp and a broken record."""
    day = sorted((lake_dir / "log_data").rglob("*.json"))[1]
    lines = day.read_text(encoding="utf-8").splitlines()
    good = json.loads(lines[0])
    bad = [
        json.dumps({**good, "userId": "abc"}),
        json.dumps({**good, "userId": "99999999999"}),
        json.dumps({**good, "ts": -5}),
        '{"ts": 1541105830796, "broken',
        json.dumps({**good, "song": "Nul\u0000Song"}),
    ]
    long_path = lake_dir / LONG_KEY
    long_path.parent.mkdir(parents=True)
    long_path.write_text("\n".join(lines[:40] + bad + lines[40:]) + "\n", encoding="utf-8")
    day.unlink()


def change_song(lake_dir: Path) -> None:
    """A song object rewritten with another title: its rows, and the tables built on them, move."""
    path = sorted((lake_dir / "song_data").rglob("*.json"))[0]
    record = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**record, "title": "Rewritten title"}), encoding="utf-8")


def redeliver_day(lake_dir: Path) -> None:
    """A day uploaded again under another name: its events are plays already held."""
    day = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    day.with_name(day.stem + ".retry-1.json").write_bytes(day.read_bytes())


def change_events(lake_dir: Path) -> None:
    """An event object delivered again with one event fewer."""
    path = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    "copy_min_bytes", [0, None], ids=["every object COPYed", "small objects parsed here"]
)
def test_three_engines_build_identical_tables(
    copy_min_bytes, redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir, tmp_path,
    postgres_warehouse,
):  # fmt: skip
    settings = {} if copy_min_bytes is None else {"copy_min_object_bytes": copy_min_bytes}
    redshift = redshift_warehouse(redshift_standin, monkeypatch, **settings)
    duckdb = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    add_bad_events(lake_dir)
    steps = [("first load", None), ("a redelivered day", redeliver_day),
             ("a changed event object", change_events), ("a changed song object", change_song),
             ("a rerun", None)]  # fmt: skip
    for step, change in steps:
        if change:
            change(lake_dir)
        sync(lake_dir, s3_url, s3_endpoint)
        for warehouse, lake in ((duckdb, lake_dir), (postgres_warehouse, lake_dir)):
            run_graph(warehouse, lake, max_reject_rate=1.0)
        run_graph(
            redshift, s3_url, max_reject_rate=1.0, s3_endpoint_url=redshift_standin.lake_endpoint
        )
        for table in (*STAR_TABLES, *STAGING):
            expected = read_table(duckdb, table)
            assert read_table(postgres_warehouse, table) == expected, (step, table)
            lines = copy_min_bytes is None  # parsed here, lines are known
            assert staged_rows(redshift, table, lines) == staged_rows(duckdb, table, lines), (
                step,
                table,
            )
    rejects = read_table(redshift, "staging_rejects")
    assert {r[1] for r in rejects} == {LONG_KEY}  # the whole key, not cut at 256 characters
    assert {r[3] for r in rejects} >= {
        "userId is neither empty nor a whole number",
        "ts is not between 1970 and 9999",
        "invalid JSON",
        "a value holds a NUL character",
    }
    assert all(r[2] is not None for r in rejects)  # each with its line


def test_every_statement_the_engine_sends_is_one_redshift_accepts(
    redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir
):
    warehouse = redshift_warehouse(redshift_standin, monkeypatch, copy_min_object_bytes=0)
    add_bad_events(lake_dir)
    sync(lake_dir, s3_url, s3_endpoint)
    run_graph(
        warehouse, s3_url, max_reject_rate=1.0, s3_endpoint_url=redshift_standin.lake_endpoint
    )
    assert redshift_standin.sent
    for statement in redshift_standin.sent:
        guard.check(statement)  # raises for what Redshift does not accept
    copies = [s for s in redshift_standin.sent if s.lstrip().upper().startswith("COPY")]
    assert any("FORMAT AS JSON 's3://" in c and "MANIFEST" in c for c in copies)
    assert all(PG["password"] not in s for s in redshift_standin.sent)
    assert not any("stl_load_errors" in s and "filename" in s for s in redshift_standin.sent)


def test_copy_target_takes_every_raw_field_as_text_and_nothing_outside_the_copy_list():
    """COPY loads text only (typed_copy types it), and a NOT NULL column left out of COPY's
    column list would fail every COPY."""
    for table in ("staging_events", "staging_songs"):
        (_drop, create) = sql_files.statements(table, "create_copy_target", "redshift")
        target = sqlglot.parse_one(create, read="redshift")
        columns = {c.name: c.args["kind"].sql("redshift") for c in target.find_all(exp.ColumnDef)}
        copied = [c.name for c in redshift_engine.json_records.raw_columns(table)]
        assert list(columns) == copied
        assert set(columns.values()) == {"VARCHAR(65535)"}
        assert "NOT NULL" not in create.upper() and "LIKE" not in create.upper()
        for name in ("load_batch", "source_key", "source_line"):
            assert f"{name} " not in create


def test_two_runs_at_once_neither_lose_nor_double_rows(
    redshift_standin_each_isolation, aws_credentials, s3_endpoint, monkeypatch, lake_dir, tmp_path
):
    redshift_standin = redshift_standin_each_isolation
    s3_url = f"s3://{redshift_standin.bucket}/lake"
    warehouse = redshift_warehouse(redshift_standin, monkeypatch, copy_min_object_bytes=0)
    sync(lake_dir, s3_url, s3_endpoint)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_graph(warehouse, s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors
    alone = DuckDBWarehouse(path=str(tmp_path / "alone.duckdb"))
    run_graph(alone, lake_dir)
    for table in (*STAR_TABLES, *STAGING):
        assert staged_rows(warehouse, table, False) == staged_rows(alone, table, False), table


def test_serverless_reads_load_errors_from_the_sys_view(
    redshift_serverless_standin, aws_credentials, s3_endpoint, monkeypatch, lake_dir, tmp_path
):
    url = f"s3://{redshift_serverless_standin.bucket}/lake"
    warehouse = redshift_warehouse(
        redshift_serverless_standin, monkeypatch, workgroup="sparkify", copy_min_object_bytes=0
    )
    add_bad_events(lake_dir)
    sync(lake_dir, url, s3_endpoint)
    run_graph(
        warehouse, url, max_reject_rate=1.0,
        s3_endpoint_url=redshift_serverless_standin.lake_endpoint,
    )  # fmt: skip
    sent = " ".join(redshift_serverless_standin.sent)
    assert "sys_load_error_detail" in sent and "stl_load_errors" not in sent
    duckdb = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    run_graph(duckdb, lake_dir, max_reject_rate=1.0)
    assert read_table(warehouse, "staging_rejects") == read_table(duckdb, "staging_rejects")


def test_preflight_passes_on_a_ready_cluster(
    redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir
):
    sync(lake_dir, s3_url, s3_endpoint)
    warehouse = redshift_warehouse(redshift_standin, monkeypatch)
    findings = run_preflight(
        warehouse, Lake(url=s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
    )
    assert all(f.passed for f in findings), findings
    checks = [f.check for f in findings]
    assert "lake bucket region" in checks
    assert sum(c.startswith("COPY ") and "(NOLOAD)" in c for c in checks) == 2
    assert any("NOLOAD" in s for s in redshift_standin.sent)
    with warehouse.session() as session:  # NOLOAD loaded nothing, created nothing lasting
        tables = "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'staging_events'"
        assert session.query_text(tables)[1] == [(0,)]


@pytest.mark.parametrize(
    "wrong, failing",
    [
        ({"aws_region": "eu-west-1"}, "lake bucket region"),
        ({"iam_role_arn": "arn:aws:iam::123456789012:role/no-such-role"}, "COPY staging_events"),
        ({"port": 1}, "connect"),
    ],
    ids=["wrong region", "missing IAM role", "unreachable host"],
)
def test_preflight_says_what_to_fix(
    wrong, failing, redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir
):
    sync(lake_dir, s3_url, s3_endpoint)
    warehouse = redshift_warehouse(redshift_standin, monkeypatch, **wrong)
    findings = run_preflight(
        warehouse, Lake(url=s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
    )
    failed = [f for f in findings if not f.passed]
    assert failed and any(f.check.startswith(failing) for f in failed), findings
    assert all(PG["password"] not in f.detail for f in findings)


def test_preflight_names_a_missing_privilege(
    redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir
):
    """A login that may not create tables in the schema (PostgreSQL 15 grants that to owners)."""
    sync(lake_dir, s3_url, s3_endpoint)
    limited = {"user": "sparkify_test_limited", "password": "sparkify-limited-pw"}
    warehouse = redshift_warehouse(redshift_standin, monkeypatch, **limited)
    findings = run_preflight(
        warehouse, Lake(url=s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
    )
    (failed,) = [f for f in findings if not f.passed]
    if failed.check == "connect":
        service_unavailable(f"the role sparkify_test_limited cannot log in: {failed.detail}")
    assert failed.check.startswith("privilege: create tables")
    assert "GRANT CREATE ON SCHEMA public TO sparkify_test_limited" in failed.detail


def test_iam_login_takes_temporary_credentials_for_the_cluster(
    redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir
):
    redshift_api = boto3.client("redshift", endpoint_url=s3_endpoint, region_name="us-west-2")
    redshift_api.create_cluster(
        ClusterIdentifier="sparkify",
        NodeType="ra3.xlplus",
        MasterUsername="admin",
        MasterUserPassword="Admin-pw-1",
    )
    logins: list[tuple[str, str]] = []

    def connect(**kwargs):
        logins.append((kwargs["user"], kwargs["password"]))
        # The stand-in's PostgreSQL knows the test login, not IAM's temporary user.
        return redshift_standin.connect(
            **{**kwargs, "user": PG["user"], "password": PG["password"]}
        )

    warehouse = redshift_warehouse(
        redshift_standin,
        monkeypatch,
        password=None,
        cluster_identifier="sparkify",
        aws_endpoint_url=s3_endpoint,
        redshift_region="us-west-2",
    )
    monkeypatch.setattr(redshift_engine, "psycopg2_connect", connect)
    sync(lake_dir, s3_url, s3_endpoint)
    run_graph(warehouse, s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
    assert logins and all(user == f"IAM:{PG['user']}" and password for user, password in logins)
    assert read_table(warehouse, "songplays")


def test_a_failing_audit_publishes_nothing_on_redshift_and_the_fix_publishes(
    redshift_standin, s3_url, s3_endpoint, monkeypatch, lake_dir
):
    warehouse = redshift_warehouse(redshift_standin, monkeypatch)
    sync(lake_dir, s3_url, s3_endpoint)
    run_graph(warehouse, s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
    before = {t: read_table(warehouse, t) for t in STAR_TABLES}
    day = sorted((lake_dir / "log_data").rglob("*.json"))[-1]
    original = day.read_text(encoding="utf-8")
    events = [json.loads(line) for line in original.splitlines()]
    bad = next(e for e in reversed(events) if e["page"] == "NextSong" and e["userId"])
    bad["level"] = "premium"
    day.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    sync(lake_dir, s3_url, s3_endpoint)

    failed = run_graph(
        warehouse, s3_url, must_succeed=False, s3_endpoint_url=redshift_standin.lake_endpoint
    )
    assert not failed.success
    assert {t: read_table(warehouse, t) for t in STAR_TABLES} == before
    kept = read_table(warehouse, "audit_failures")
    assert [(k[1], k[2], k[3]) for k in kept] == [("users", "level_domain", 1)]

    day.write_text(original, encoding="utf-8")  # the object is corrected
    sync(lake_dir, s3_url, s3_endpoint)
    run_graph(warehouse, s3_url, s3_endpoint_url=redshift_standin.lake_endpoint)
    assert {t: read_table(warehouse, t) for t in STAR_TABLES} == before
