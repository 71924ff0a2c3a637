"""The Redshift stand-in itself: its guard, its sessions (serializable, TRUNCATE, LOCK, literals).

COPY is tested in tests/redshift_standin/test_copy_standin.py.
"""

import io
import re
import threading
import time

import psycopg2
import pytest
from psycopg2.extras import execute_values

from sparkify_assets import sql_files
from tests.redshift_standin import UnsupportedByRedshift, guard

pytest_plugins = ("tests.redshift_standin.fixtures",)

REFUSED = [
    ("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO NOTHING", "ON CONFLICT"),
    ("INSERT INTO t (a) VALUES (1) RETURNING a", "RETURNING"),
    ("SELECT DISTINCT ON (a) a, b FROM t", "DISTINCT ON"),
    ("SELECT COUNT(*) FILTER (WHERE a > 1) FROM t", "FILTER (WHERE"),
    ("SELECT pg_advisory_xact_lock(730001)", "PG_ADVISORY_XACT_LOCK"),
    ("SELECT pg_try_advisory_lock(1)", "PG_TRY_ADVISORY_LOCK"),
    ('LOCK TABLE "t" IN SHARE ROW EXCLUSIVE MODE', "LOCK ... IN ... MODE"),
    ("COPY t (a) FROM STDIN WITH (FORMAT csv)", "FROM STDIN"),
    ("COPY t TO STDOUT", "TO STDOUT"),
    ("CREATE INDEX t_a ON t (a)", "CREATE INDEX"),
    ("CREATE UNIQUE INDEX t_a ON t (a)", "INDEX"),
    ("SELECT ARRAY[1, 2]", "ARRAY["),
    ("SELECT CAST(a AS INTEGER[]) FROM t", "INTEGER[]"),
    ("CREATE TABLE t (a INTEGER[])", "INTEGER[]"),
    ("SELECT a FROM t WHERE a = ANY(%(keys)s)", "ANY(array)"),
    ("SELECT a FROM t WHERE a ILIKE ANY (ARRAY['x%', 'y%'])", "ILIKE ANY"),
    ("CREATE TABLE t (a JSONB)", "JSONB"),
    ("CREATE TABLE t (a JSON)", "JSON"),
    ("SELECT a::json FROM t", "JSON"),
    ("SELECT SUM(a) OVER (PARTITION BY b ORDER BY c) FROM t", "without a ROWS frame"),
    ("SELECT COUNT(*) OVER (ORDER BY c) FROM t", "without a ROWS frame"),
    ("SELECT * FROM generate_series(1, 10)", "GENERATE_SERIES"),
    ("SELECT to_regclass('t')", "TO_REGCLASS"),
    ("CREATE TABLE t (id SERIAL, a INTEGER)", "SERIAL"),
    ("CREATE TABLE t (id BIGSERIAL)", "BIGSERIAL"),
    ("CREATE EXTENSION IF NOT EXISTS pgcrypto", "CREATE EXTENSION"),
    ("SELECT string_agg(a, ',') FROM t", "STRING_AGG"),
    ("SELECT array_agg(a) FROM t", "ARRAY_AGG"),
    ("SELECT a FROM t WHERE a IS DISTINCT FROM b", "IS [NOT] DISTINCT FROM"),
    ("SELECT * FROM (VALUES (1), (2)) AS v (x)", "VALUES list"),
    ("SELECT ROW(1, 2)", "row constructors"),
    ("CREATE SEQUENCE s", "sequences"),
    ("SELECT nextval('s')", "NEXTVAL"),
    ("SAVEPOINT a", "SAVEPOINT"),
    ("CREATE TABLE t (a INTEGER CHECK (a > 0))", "CHECK constraints"),
    ("CREATE TABLE c () INHERITS (t)", "INHERITS"),
    ("SELECT SUM(a) OVER (ORDER BY c RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t",
     "RANGE window frames"),
    ("CREATE TABLE t (id UUID)", "UUID"),
    ("TRUNCATE a, b", "TRUNCATE of several tables"),
    ("SELECT format('%s', a) FROM t", "FORMAT"),
    ("CREATE TYPE mood AS ENUM ('a', 'b')", "CREATE TYPE"),
]  # fmt: skip
ACCEPTED = [
    "SELECT 'ON CONFLICT RETURNING ARRAY[1]' AS text_only",  # words in a literal are data
    'SELECT "returning" FROM t',  # a quoted identifier is a name
    "SELECT SUM(a) OVER (PARTITION BY b ORDER BY c ROWS UNBOUNDED PRECEDING) FROM t",
    "SELECT ROW_NUMBER() OVER (PARTITION BY b ORDER BY c) FROM t",
    "SELECT COUNT(*) OVER () FROM t",
    "SELECT a FROM t WHERE a IN (SELECT b FROM u) AND a > ANY (SELECT b FROM u)",
    "LOCK t1, t2",
    "SELECT LISTAGG(a, ',') WITHIN GROUP (ORDER BY a) FROM t",
]


@pytest.mark.parametrize(("sql", "construct"), REFUSED, ids=[c for _s, c in REFUSED])
def test_guard_refuses_what_redshift_does_not_have_and_names_the_page(sql, construct):
    with pytest.raises(UnsupportedByRedshift) as refused:
        guard.check(sql)
    assert construct in str(refused.value)
    assert "https://docs.aws.amazon.com/redshift/" in str(refused.value)
    assert isinstance(refused.value, psycopg2.ProgrammingError)


@pytest.mark.parametrize("sql", ACCEPTED)
def test_guard_accepts_redshift_sql(sql):
    guard.check(sql)


def engine_statements() -> list[str]:
    """Every statement of sql/engines/redshift.sql, values bound as psycopg2 would bind them."""
    bound = []
    for (engine, _section), text in sql_files.all_engine_statements().items():
        if engine == "redshift":
            text = re.sub(r"%\((\w+)\)s", "'s3://b/it''s'", text)
            bound.append(text.replace("VALUES %s", "VALUES ('k', 'e', 1), ('k2', 'e', 2)"))
    return bound


def test_guard_accepts_every_project_and_engine_statement():
    statements = [
        s for (_f, _s, d), group in sql_files.all_statements().items() if d == "redshift"
        for s in group
    ]  # fmt: skip
    assert len(statements) > 60
    for statement in statements + engine_statements():
        guard.check(statement)


def test_project_ddl_and_sections_run_on_the_standin(redshift_standin):
    with redshift_standin.connect(**redshift_standin.connect_kwargs()) as con, con.cursor() as cur:
        for table in (*sql_files.BOOKKEEPING_TABLES, *sql_files.TABLE_ASSETS):
            for statement in sql_files.statements(table, "create", "redshift"):
                cur.execute(statement)
        cur.execute("CREATE TEMP TABLE staging_events_load (LIKE staging_events)")
        cur.execute(sql_files.statements("load_batches", "next_batch", "redshift")[0])
        assert cur.fetchone() == (1,)
        cur.execute("SELECT character_maximum_length FROM information_schema.columns "
                    "WHERE table_name = 'artists' AND column_name = 'name'")  # fmt: skip
        assert cur.fetchone() == (512,)


def test_session_is_serializable_and_execute_values_works(redshift_standin):
    con = redshift_standin.connect(**redshift_standin.connect_kwargs())
    with con, con.cursor() as cur:
        cur.execute("SHOW transaction_isolation")
        assert cur.fetchone() == ("serializable",)
        cur.execute("CREATE TEMP TABLE o (k VARCHAR(8), n BIGINT)")
        execute_values(cur, "INSERT INTO o (k, n) VALUES %s", [("a", 1), ("b", 2)], page_size=1)
        cur.execute("SELECT k, n FROM o WHERE k = %(k)s", {"k": "b"})
        assert cur.fetchall() == [("b", 2)] and [d[0] for d in cur.description] == ["k", "n"]
    assert any("VALUES ('a',1)" in s for s in redshift_standin.sent)
    con.close()


def test_backslash_in_a_literal_is_an_escape_as_in_redshift(redshift_standin):
    with redshift_standin.connect(**redshift_standin.connect_kwargs()) as con, con.cursor() as cur:
        cur.execute(r"SELECT 'a\\b', 'it\'s', LENGTH('x\\y')")
        assert cur.fetchone() == ("a\\b", "it's", 3)


def test_a_refused_statement_aborts_the_transaction_as_an_error_does(redshift_standin):
    con = redshift_standin.connect(**redshift_standin.connect_kwargs())
    with con.cursor() as cur:
        cur.execute("CREATE TEMP TABLE o (a INTEGER)")
        with pytest.raises(UnsupportedByRedshift, match="RETURNING"):
            cur.execute("INSERT INTO o VALUES (1) RETURNING a")
        with pytest.raises(psycopg2.errors.InFailedSqlTransaction):
            cur.execute("SELECT 1")
        con.rollback()
        with pytest.raises(UnsupportedByRedshift, match="FROM STDIN"):
            cur.copy_expert("COPY o (a) FROM STDIN WITH (FORMAT csv)", io.StringIO("1\n"))
    con.rollback()
    con.close()


def test_truncate_commits_the_transaction(redshift_standin):
    kwargs = redshift_standin.connect_kwargs()
    con = redshift_standin.connect(**kwargs)
    with con.cursor() as cur:
        cur.execute("CREATE TABLE kept (a INTEGER) DISTSTYLE ALL")
        cur.execute("CREATE TABLE emptied (a INTEGER)")
        cur.execute("INSERT INTO kept VALUES (1)")
        cur.execute("TRUNCATE emptied")
        cur.execute("INSERT INTO kept VALUES (2)")
    con.rollback()  # undoes only what came after the TRUNCATE
    with con.cursor() as cur:
        cur.execute("SELECT a FROM kept")
        assert cur.fetchall() == [(1,)]
    con.close()


def test_lock_blocks_readers_in_other_sessions(redshift_standin):
    kwargs = redshift_standin.connect_kwargs()
    setup = redshift_standin.connect(**kwargs)
    with setup, setup.cursor() as cur:
        cur.execute("CREATE TABLE t1 (a INTEGER); CREATE TABLE t2 (a INTEGER)")
    holder, reader = (redshift_standin.connect(**kwargs) for _ in range(2))
    with holder.cursor() as cur:
        cur.execute("LOCK t1, t2")
    with reader.cursor() as cur:
        cur.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg2.errors.LockNotAvailable):
            cur.execute("SELECT COUNT(*) FROM t2")  # Redshift's LOCK blocks reads too
    for con in (holder, reader, setup):
        con.rollback()
        con.close()


def _lock_then_read(con, results: dict, name: str) -> None:
    try:
        with con.cursor() as cur:
            cur.execute("LOCK accounts")
            cur.execute("SELECT balance FROM accounts")
            results[f"{name}_read"] = cur.fetchone()[0]
            cur.execute("UPDATE accounts SET balance = balance + 1")
        con.commit()
        results[name] = "committed"
    except psycopg2.Error as exc:
        con.rollback()
        results[name] = type(exc).__name__


def test_serializable_snapshot_starts_at_the_first_statement(redshift_standin):
    kwargs = {**redshift_standin.connect_kwargs(), "options": "-c lock_timeout=20s"}
    setup = redshift_standin.connect(**kwargs)
    with setup, setup.cursor() as cur:
        cur.execute("CREATE TABLE accounts (balance INTEGER); INSERT INTO accounts VALUES (10)")
        cur.execute("CREATE TABLE watermark (batch INTEGER)")
    writer, late, early = (redshift_standin.connect(**kwargs) for _ in range(3))
    with early.cursor() as cur:  # reads (another table) first: its snapshot is taken now
        cur.execute("SELECT COUNT(*) FROM watermark")
    with writer.cursor() as cur:
        cur.execute("LOCK accounts")
        cur.execute("UPDATE accounts SET balance = 20")
    results: dict = {}
    threads = [
        threading.Thread(target=_lock_then_read, args=(early, results, "read_first")),
        threading.Thread(target=_lock_then_read, args=(late, results, "lock_first")),
    ]
    for thread in threads:  # both wait for the writer's lock, early first
        thread.start()
        time.sleep(0.3)
    writer.commit()
    for thread in threads:
        thread.join(30)
    # Read first, then LOCK: the lock waited for the writer, but the snapshot is the old one:
    # it still reads 10, and its write of the row the writer changed is refused.
    assert results["read_first_read"] == 10
    assert results["read_first"] == "SerializationFailure"
    # LOCK first: the snapshot is taken once the lock is granted, so it sees the commit.
    assert results["lock_first_read"] == 20 and results["lock_first"] == "committed"
    for con in (setup, writer, late, early):
        con.close()
