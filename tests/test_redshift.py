"""The Redshift engine, without a Redshift cluster.

Every statement the engine sends is captured and parsed with sqlglot's Redshift dialect; COPY's
options and quoting are asserted exactly. The statements PostgreSQL also understands (everything
but COPY and Redshift's system tables) run for real on a PostgreSQL server, the stand-in for
Redshift's wire protocol and transactions, so the whole graph completes there.
"""

import json
import logging

import dagster_aws.redshift.resources as dagster_aws_redshift
import psycopg2
import pytest
import sqlglot
from dagster import materialize
from sqlglot import exp

from sparkify_assets import sql_files
from sparkify_assets.definitions import ALL_ASSETS, ConfigError, build_warehouse
from sparkify_assets.generate import generate_lake
from sparkify_assets.resources.lake import Lake
from sparkify_assets.resources.redshift import copy_statement, manifest
from sparkify_assets.resources.warehouse import Warehouse
from tests.conftest import PG

pytest_plugins = ("tests.s3_server",)

ROLE = "arn:aws:iam::123456789012:role/sparkify-copy"
REDSHIFT_ONLY = ("COPY ", "PG_LAST_COPY", "STL_LOAD_ERRORS", "DISTSTYLE", "DISTKEY", "SORTKEY")


def copy_values(statement: str) -> dict:
    """The literal values of a parsed COPY statement."""
    tree = sqlglot.parse_one(statement, read="redshift")
    assert isinstance(tree, exp.Copy)
    creds = tree.args["credentials"]
    return {
        "table": tree.this.this.name,
        "columns": [c.name for c in tree.this.expressions],
        "from": tree.args["files"][0].this,
        "iam_role": creds.args["iam_role"].this,
        "region": creds.args["region"].this,
        "jsonpaths": tree.args["params"][0].expression.this,
    }


@pytest.mark.parametrize(
    "hostile", ["it's", "back\\slash", "with space", "quote'and\\both", "unicode ünï"]
)
def test_copy_quotes_every_value_so_it_can_neither_break_nor_inject(hostile):
    statement = copy_statement(
        "staging_events_load",
        ["artist", "ts"],
        f"s3://bucket/{hostile}/m.manifest",
        f"s3://bucket/{hostile}/e.jsonpaths",
        f"{ROLE}{hostile}",
        f"us-west-2{hostile}",
    )
    assert len(sqlglot.parse(statement, read="redshift")) == 1  # no second statement smuggled in
    assert copy_values(statement) == {
        "table": "staging_events_load",
        "columns": ["artist", "ts"],
        "from": f"s3://bucket/{hostile}/m.manifest",
        "iam_role": f"{ROLE}{hostile}",
        "region": f"us-west-2{hostile}",
        "jsonpaths": f"s3://bucket/{hostile}/e.jsonpaths",
    }


def test_manifest_lists_exactly_the_objects_even_with_odd_keys():
    uris = ["s3://b/raw/log_data/it's here.json", 's3://b/raw/song_data/"q"\\x.json']
    assert json.loads(manifest(uris)) == {"entries": [{"url": u, "mandatory": True} for u in uris]}


def test_redshift_settings_are_required_and_named():
    base = {"SPARKIFY_WAREHOUSE": "redshift", "SPARKIFY_LAKE": "s3://b/raw"}
    with pytest.raises(ConfigError, match="SPARKIFY_IAM_ROLE_ARN is required"):
        build_warehouse(base)
    with pytest.raises(ConfigError, match="set SPARKIFY_LAKE=s3://bucket/prefix"):
        build_warehouse(
            {
                **base,
                "SPARKIFY_LAKE": "/tmp",
                "SPARKIFY_IAM_ROLE_ARN": ROLE,
                "SPARKIFY_AWS_REGION": "x",
            }
        )
    warehouse = build_warehouse(
        {**base, "SPARKIFY_IAM_ROLE_ARN": ROLE, "SPARKIFY_AWS_REGION": "us-west-2"}
    )
    assert (warehouse.port, warehouse.sslmode) == (5439, "require")


class RecordingCursor:
    """Records each statement as sent (parameters bound); runs it unless only Redshift has it."""

    def __init__(self, cursor, sent: list[str]):
        self._cursor = cursor
        self._sent = sent
        self._canned = None

    def execute(self, sql, params=None):
        text = self._cursor.mogrify(sql, params).decode()
        self._sent.append(text)
        self._canned = None
        if any(marker in text.upper() for marker in REDSHIFT_ONLY):
            self._canned = [(0,)] if "PG_LAST_COPY_COUNT" in text.upper() else []
            return
        self._cursor.execute(text)

    def fetchall(self):
        return self._canned if self._canned is not None else self._cursor.fetchall()

    @property
    def description(self):
        return [("result",)] if self._canned is not None else self._cursor.description

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._cursor.close()


class RecordingConnection:
    def __init__(self, con, sent):
        self._con = con
        self._sent = sent

    def cursor(self, *args, **kwargs):
        return RecordingCursor(self._con.cursor(*args, **kwargs), self._sent)

    def __getattr__(self, name):
        return getattr(self._con, name)


@pytest.fixture
def redshift_stand_in(postgres_warehouse, monkeypatch):
    """A Redshift-engine Warehouse whose connections (made by dagster-aws) reach PostgreSQL."""
    sent: list[str] = []
    with postgres_warehouse.session() as session:  # Redshift's DDL does not run on PostgreSQL
        for table in (*sql_files.BOOKKEEPING_TABLES, *sql_files.TABLE_ASSETS):
            session.create_table(table)
    real_connect = psycopg2.connect
    monkeypatch.setattr(
        dagster_aws_redshift.psycopg2,
        "connect",
        lambda **kw: RecordingConnection(real_connect(**kw), sent),
    )
    warehouse = Warehouse(
        engine="redshift",
        host=PG["host"],
        port=PG["port"],
        user=PG["user"],
        password=PG["password"],
        database=postgres_warehouse.database,
        sslmode="disable",
        iam_role_arn=ROLE,
        aws_region="us-west-2",
    )
    return warehouse, sent


def test_graph_on_redshift_sends_only_redshift_sql(
    redshift_stand_in, s3_lake, s3_endpoint, s3_client, caplog
):
    warehouse, sent = redshift_stand_in
    bucket, prefix = s3_lake[5:].split("/", 1)
    generate_lake(
        s3_lake, songs=20, users=10, days=2, events_per_day=200, seed=3, endpoint_url=s3_endpoint
    )
    caplog.set_level(logging.DEBUG)

    result = materialize(
        ALL_ASSETS,
        resources={"warehouse": warehouse, "lake": Lake(url=s3_lake, s3_endpoint_url=s3_endpoint)},
    )
    assert result.success

    for statement in sent:
        assert sqlglot.parse(statement, read="redshift"), statement
    copies = [s for s in sent if s.startswith("COPY ")]
    assert len(copies) == 2 + 1  # one per event object (its rows carry the key), one for songs
    first = copy_values(copies[0])
    assert first["table"] == "staging_events_load"
    assert first["columns"][:3] == ["artist", "auth", "firstname"] and len(first["columns"]) == 18
    assert first["iam_role"] == ROLE and first["region"] == "us-west-2"
    assert (
        first["jsonpaths"] == f"s3://{bucket}/{prefix}/_sparkify/jsonpaths/staging_events.jsonpaths"
    )
    assert copies[0].endswith("MANIFEST MAXERROR 100000 COMPUPDATE OFF STATUPDATE OFF")

    manifest_key = first["from"].split("/", 3)[3]
    entries = json.loads(s3_client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())[
        "entries"
    ]
    assert entries == [
        {
            "url": f"s3://{bucket}/{prefix}/log_data/2018/11/2018-11-01-events.json",
            "mandatory": True,
        }
    ]
    jsonpaths = json.loads(
        s3_client.get_object(
            Bucket=bucket, Key=f"{prefix}/_sparkify/jsonpaths/staging_events.jsonpaths"
        )["Body"].read()
    )["jsonpaths"]
    assert jsonpaths[2] == "$['firstName']"

    # The star merges went through in Redshift's text, on the PostgreSQL stand-in.
    assert any(s.lstrip("/* ").startswith("Rebuild") or "INSERT INTO songplays" in s for s in sent)
    with Warehouse(**{**warehouse.__dict__, "engine": "postgres"}).session() as session:
        assert session.fetch("SELECT COUNT(*) FROM load_manifest")[0][0] == 20 + 2

    logged = "\n".join(r.getMessage() for r in caplog.records)
    logged += "\n".join(str(e) for e in result.all_events)
    assert PG["password"] not in logged
    assert all(PG["password"] not in s for s in sent)
