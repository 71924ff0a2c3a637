SET check_function_bodies = off;
-- Redshift's load-error views and COPY session functions, as real objects of the stand-in
-- database, so the engine's own SQL that reads them runs unmodified.

-- STL_LOAD_ERRORS, with the documented column types:
-- https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_ERRORS.html
-- In its own schema: provisioned sessions have it on their search_path, Serverless sessions do
-- not (Serverless has no STL views, only SYS ones).
CREATE SCHEMA IF NOT EXISTS redshift_stl;
CREATE TABLE IF NOT EXISTS redshift_stl.stl_load_errors (
    userid          INTEGER,
    slice           INTEGER,
    tbl             INTEGER,
    starttime       TIMESTAMP,
    session         INTEGER,
    query           INTEGER,
    filename        CHARACTER(256),
    line_number     BIGINT,
    colname         CHARACTER(127),
    type            CHARACTER(10),
    col_length      CHARACTER(10),
    position        INTEGER,
    raw_line        CHARACTER(1024),
    raw_field_value CHARACTER(1024),
    err_code        INTEGER,
    err_reason      CHARACTER(100)
);

-- SYS_LOAD_ERROR_DETAIL: https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html
CREATE SCHEMA IF NOT EXISTS redshift_sys;
CREATE TABLE IF NOT EXISTS redshift_sys.sys_load_error_detail (
    user_id        INTEGER,
    query_id       BIGINT,
    transaction_id BIGINT,
    session_id     INTEGER,
    database_name  CHARACTER(64),
    table_id       INTEGER,
    start_time     TIMESTAMP,
    file_name      CHARACTER(256),
    line_number    BIGINT,
    column_name    CHARACTER(127),
    column_type    CHARACTER(10),
    column_length  CHARACTER(10),
    position       INTEGER,
    error_code     INTEGER,
    error_message  CHARACTER(512)
);

-- Query ids: every COPY gets a new one, across sessions (a sequence is never rolled back).
CREATE SEQUENCE IF NOT EXISTS redshift_sys.query_id START 1000;

-- PG_LAST_COPY_ID / PG_LAST_COPY_COUNT read per-session sequences the stand-in creates at
-- connect time: sequences survive a rollback, as the documented COPY id does.
-- https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_ID.html
-- https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_COUNT.html
CREATE OR REPLACE FUNCTION public.pg_last_copy_id() RETURNS INTEGER
LANGUAGE sql VOLATILE AS $$ SELECT last_value::INTEGER FROM pg_temp.redshift_last_copy_id $$;
CREATE OR REPLACE FUNCTION public.pg_last_copy_count() RETURNS BIGINT
LANGUAGE sql VOLATILE AS $$ SELECT last_value FROM pg_temp.redshift_last_copy_count $$;

-- GETDATE(): the statement's start, UTC, whole seconds; SYSDATE: the transaction's start.
-- https://docs.aws.amazon.com/redshift/latest/dg/r_GETDATE.html
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SYSDATE.html
CREATE OR REPLACE FUNCTION public.redshift_getdate() RETURNS TIMESTAMP
LANGUAGE sql STABLE AS $$ SELECT date_trunc('second', statement_timestamp() AT TIME ZONE 'UTC') $$;
CREATE OR REPLACE FUNCTION public.redshift_sysdate() RETURNS TIMESTAMP
LANGUAGE sql STABLE AS $$ SELECT transaction_timestamp() AT TIME ZONE 'UTC' $$;

-- A COPY that fails aborts the transaction as a server error does: raised by the server.
CREATE OR REPLACE FUNCTION redshift_sys.fail(message TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = message, ERRCODE = 'XX000'; END $$;

-- SVV_TRANSACTIONS: the locks sessions hold or wait for now, read from PostgreSQL's own.
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TRANSACTIONS.html
CREATE OR REPLACE VIEW redshift_sys.svv_transactions AS
SELECT a.usename::TEXT AS txn_owner, a.datname::TEXT AS txn_db,
       l.virtualtransaction AS xid_text, l.pid, a.xact_start AS txn_start,
       l.mode AS lock_mode,
       CASE WHEN l.locktype = 'relation' THEN 'relation' ELSE 'transactionid' END
           AS lockable_object_type,
       CASE WHEN l.locktype = 'relation' THEN l.relation::INTEGER END AS relation, l.granted
FROM pg_locks AS l
JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype IN ('relation', 'transactionid') AND a.datname = current_database();
