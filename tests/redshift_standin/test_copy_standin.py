"""The Redshift stand-in's COPY: what it loads, what it rejects, and how it fails."""

import gzip
import json

import boto3
import psycopg2
import pytest

from sparkify_assets import sql_files
from sparkify_assets.resources.engines.redshift_session import manifest

pytest_plugins = ("tests.redshift_standin.fixtures",)

EVENTS = [
    {"artist": "A", "userId": "7", "ts": 1541105830796, "length": 228.5},
    {"artist": "B", "userId": 39, "ts": "1541106106796"},  # a number into VARCHAR keeps its text
    {"artist": None, "userId": "", "ts": 1541106132796, "length": 0.5, "extra": [1]},
]
PATHS = ["$['artist']", "$['userId']", "$['ts']", "$['length']"]
TABLE = "CREATE TABLE ev (artist VARCHAR(8), userid VARCHAR(8), ts BIGINT NOT NULL, length DOUBLE PRECISION) DISTSTYLE EVEN"


class Lake:
    """Puts objects in the stand-in's bucket and composes COPY statements over them."""

    def __init__(self, handle):
        self.h = handle
        self.s3 = boto3.client(
            "s3", endpoint_url=handle.s3_endpoint, region_name=handle.region,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    def put(self, key: str, body) -> str:
        data = body if isinstance(body, bytes) else body.encode()
        self.s3.put_object(Bucket=self.h.bucket, Key=key, Body=data)
        return f"s3://{self.h.bucket}/{key}"

    def lines(self, key: str, records) -> str:
        return self.put(key, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))

    def copy(self, table, columns, keys, paths=PATHS, options="", role=None, region=None):
        uris = [f"s3://{self.h.bucket}/{k}" for k in keys]
        mani = self.put(f"m/{table}-{len(self.h.sent)}.manifest", manifest(uris))
        jp = self.put("jp/paths.json", json.dumps({"jsonpaths": paths}))
        role, region = role or self.h.iam_role_arn, region or self.h.region
        return (
            f"COPY {table} ({', '.join(columns)}) FROM {quoted(mani)} IAM_ROLE {quoted(role)} "
            f"REGION {quoted(region)} FORMAT AS JSON {quoted(jp)} MANIFEST {options or 'MAXERROR 0'}"
        )


def quoted(value: str) -> str:
    """A Redshift string literal (quotes doubled, backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@pytest.fixture
def lake(redshift_standin):
    return Lake(redshift_standin)


@pytest.fixture
def cur(redshift_standin):
    con = redshift_standin.connect(**redshift_standin.connect_kwargs())
    with con.cursor() as cursor:
        cursor.execute(TABLE)
        con.commit()  # kept when a failed COPY rolls the test's transaction back
        yield cursor
    con.rollback()
    con.close()


def rows(cur, sql):
    cur.execute(sql)
    return cur.fetchall()


def test_json_lines_through_manifest_and_jsonpaths_load_the_right_rows(lake, cur):
    lake.lines("log/a.json", EVENTS)
    cur.execute(lake.copy("ev", ["artist", "userid", "ts", "length"], ["log/a.json"]))
    assert cur.rowcount == 3 and cur.description is None
    assert rows(cur, "SELECT artist, userid, ts, length FROM ev ORDER BY ts") == [
        ("A", "7", 1541105830796, 228.5),
        ("B", "39", 1541106106796, None),  # the missing key loads NULL
        (None, "", 1541106132796, 0.5),
    ]
    assert rows(cur, "SELECT pg_last_copy_count()") == [(3,)]


def test_not_null_column_outside_the_column_list_fails_the_whole_copy(lake, cur):
    # The engine's bug: (LIKE staging_events) copies NOT NULL load_batch, which COPY leaves out.
    cur.execute(sql_files.statements("staging_events", "create", "redshift")[0])
    cur.execute("CREATE TEMP TABLE staging_events_load (LIKE staging_events)")
    raw = [c.name for c in sql_files.columns("staging_events")][:18]
    paths = json.load(open(sql_files.SQL_DIR / "staging_events.jsonpaths"))["jsonpaths"]
    lake.lines("log/b.json", [{"page": "NextSong", "itemInSession": 0, "sessionId": 1, "ts": 1}])
    with pytest.raises(psycopg2.InternalError, match="NOT NULL column without DEFAULT.*load_batch"):
        cur.execute(lake.copy("staging_events_load", raw, ["log/b.json"], paths))
    cur.connection.rollback()
    assert rows(cur, "SELECT pg_last_copy_id(), pg_last_copy_count()") == [(-1, 0)]


def test_rejects_go_to_stl_load_errors_and_maxerror_decides(redshift_standin, lake, cur):
    bad = [{"artist": "ok", "ts": 1}, {"artist": "é" * 5, "ts": 2}, {"ts": "2.5"}, {"ts": None}]
    key = "log/" + "k" * 300 + ".json"  # longer than filename's CHAR(256)
    uri = lake.put(key, "\n".join(json.dumps(r, ensure_ascii=False) for r in bad) + "\n{not json\n")
    with pytest.raises(psycopg2.InternalError, match="Check 'stl_load_errors'"):
        cur.execute(
            lake.copy("ev", ["artist", "userid", "ts", "length"], [key], options="MAXERROR 3")
        )
    cur.connection.rollback()  # the errors outlive the failed transaction, as a log does
    failed_id = rows(cur, "SELECT pg_last_copy_id()")[0][0]
    assert rows(cur, "SELECT pg_last_copy_count()") == [(0,)]
    errors = rows(cur, "SELECT TRIM(filename), line_number, TRIM(colname), err_code, TRIM(err_reason), "
                       f"TRIM(raw_line) FROM stl_load_errors WHERE query = {failed_id} ORDER BY 2")  # fmt: skip
    assert [e[0] for e in errors] == [uri[:256]] * 4
    assert [(e[1], e[2], e[3]) for e in errors] == [
        (2, "artist", 1204), (3, "ts", 1207), (4, "ts", 1213), (5, "", 1216)
    ]  # fmt: skip
    assert (
        errors[2][4] == "Missing data for not-null field"
        and errors[0][5] == '{"artist": ".....", "ts": 2}'
    )
    cur.execute(lake.copy("ev", ["artist", "userid", "ts", "length"], [key], options="MAXERROR 4"))
    assert rows(cur, "SELECT artist, ts FROM ev") == [("ok", 1)]
    assert rows(cur, f"SELECT pg_last_copy_id() > {failed_id}, pg_last_copy_count()") == [(True, 1)]
    assert rows(cur, "SELECT COUNT(*) FROM stl_load_errors WHERE query = pg_last_copy_id()") == [
        (4,)
    ]


def test_wrong_region_unknown_role_and_missing_mandatory_object_fail(lake, cur):
    lake.lines("log/c.json", EVENTS)
    columns = ["artist", "userid", "ts", "length"]
    attempts = [
        (lake.copy("ev", columns, ["log/c.json"], region="eu-west-1"),
         "must be addressed using the specified endpoint.*'us-west-2'.*'eu-west-1'"),
        (lake.copy("ev", columns, ["log/c.json"], role="arn:aws:iam::123456789012:role/nobody"),
         "is not authorized to assume IAM Role arn:aws:iam::123456789012:role/nobody"),
        (lake.copy("ev", columns, ["log/c.json", "log/gone.json"]),
         "missing mandatory file: s3://.*/log/gone.json"),
    ]  # fmt: skip
    for statement, message in attempts:
        with pytest.raises(psycopg2.InternalError, match=message):
            cur.execute(statement)
        cur.connection.rollback()
    assert rows(cur, "SELECT pg_last_copy_id()") == [(-1,)]  # none of them began loading


def test_prefix_csv_gzip_and_null_versus_empty_string(lake, cur):
    body = 'artist,userid,ts,length\n\\N,,1,\n"\\N","",2,1.5\n"a,b",x,3,2e1\n'
    lake.put("csv/part-0.gz", gzip.compress(body.encode()))
    lake.put("csv/part-1.gz", gzip.compress(b"h\nz,y,4,\n"))
    lake.put("csvx", b"never read: a prefix match of another key")
    cur.execute(
        f"COPY ev FROM 's3://{lake.h.bucket}/csv/' IAM_ROLE '{lake.h.iam_role_arn}' "
        "FORMAT AS CSV IGNOREHEADER 1 GZIP"
    )
    assert rows(cur, "SELECT artist, userid, ts, length FROM ev ORDER BY ts") == [
        (None, "", 1, None),  # unquoted \N is NULL; an empty field is '' in VARCHAR, NULL in DOUBLE
        ("\\N", "", 2, 1.5),  # a quoted "\N" is data
        ("a,b", "x", 3, 20.0),
        ("z", "y", 4, None),
    ]


def test_noload_checks_and_loads_nothing_timeformat_and_emptyasnull(lake, cur):
    cur.execute("CREATE TEMP TABLE t (s VARCHAR(4), at TIMESTAMP, n SMALLINT)")
    lake.lines("t/1.json", [{"s": "", "at": "02.11.2018 10:30:00", "n": "12"}])
    statement = lake.copy("t", ["s", "at", "n"], ["t/1.json"], ["$.s", "$.at", "$.n"],
                          options="TIMEFORMAT 'DD.MM.YYYY HH24:MI:SS' EMPTYASNULL")  # fmt: skip
    cur.execute(statement + " NOLOAD")
    assert rows(cur, "SELECT COUNT(*) FROM t") == [(0,)]
    cur.execute(statement)
    assert rows(cur, "SELECT s, CAST(at AS VARCHAR), n FROM t") == [
        (None, "2018-11-02 10:30:00", 12)
    ]
    lake.lines("t/2.json", [{"n": 40000}])
    with pytest.raises(psycopg2.InternalError):
        cur.execute(lake.copy("t", ["s", "at", "n"], ["t/2.json"], ["$.s", "$.at", "$.n"]))
    cur.connection.rollback()
    assert rows(
        cur, "SELECT TRIM(err_reason) FROM stl_load_errors WHERE query = pg_last_copy_id()"
    ) == [("Overflow, Value '40000', Type: Smallint",)]


def test_jsonpaths_count_must_match_the_column_list(lake, cur):
    lake.lines("log/d.json", EVENTS)
    with pytest.raises(psycopg2.InternalError, match="JSONPath size: 4, Number of columns.*: 3"):
        cur.execute(lake.copy("ev", ["artist", "userid", "ts"], ["log/d.json"]))


def test_serverless_has_sys_load_error_detail_and_no_stl_views(redshift_serverless_standin):
    handle, lake = redshift_serverless_standin, Lake(redshift_serverless_standin)
    lake.lines("log/e.json", [{"ts": "x"}, {"ts": 5}])
    con = handle.connect(**handle.connect_kwargs())
    with con.cursor() as cur:
        cur.execute(TABLE)
        cur.execute(
            lake.copy(
                "ev", ["artist", "userid", "ts", "length"], ["log/e.json"], options="MAXERROR 1"
            )
        )
        assert rows(cur, "SELECT line_number, TRIM(column_name), error_code FROM sys_load_error_detail "
                         "WHERE session_id = pg_backend_pid()") == [(1, "ts", 1207)]  # fmt: skip
        # The SYS views' query ids are their own: not PG_LAST_COPY_ID's.
        assert rows(cur, "SELECT COUNT(*) FROM sys_load_error_detail "
                         "WHERE query_id = pg_last_copy_id()") == [(0,)]  # fmt: skip
        with pytest.raises(
            psycopg2.ProgrammingError, match="stl_load_errors on Redshift Serverless"
        ):
            cur.execute("SELECT * FROM stl_load_errors")
    con.close()
