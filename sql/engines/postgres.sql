-- What only the PostgreSQL engine sends, in PostgreSQL's dialect
-- (sparkify_assets/resources/engines/postgres.py).

-- name: lock
-- Blocks other writers (a second run), not readers: checks and reports go on.
LOCK TABLE ${tables} IN SHARE ROW EXCLUSIVE MODE;

-- name: table_exists
SELECT to_regclass(%(name)s) IS NOT NULL;

-- name: ddl_lock
-- Two runs creating the same table at once: the second would fail on PostgreSQL's catalog. A
-- transaction-long advisory lock of this project's own makes it wait, then find the table.
SELECT pg_advisory_xact_lock(730001);

-- name: copy_csv
-- DuckDB wrote the rows as CSV: NULL unquoted, '' quoted, doubles that round-trip.
COPY ${table} (${columns}) FROM STDIN WITH (FORMAT csv);

-- name: copy_load_objects
-- CSV's empty field is NULL: a version is text, and a sensor tick that knows only a key sends ''.
COPY load_objects (object_key, etag, size, records) FROM STDIN
WITH (FORMAT csv, FORCE_NOT_NULL (object_key, etag));
