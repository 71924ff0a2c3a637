-- Statements every table shares, its name in the ${table} slot.

-- name: delete_all
DELETE FROM ${table};

-- name: row_count
SELECT COUNT(*) FROM ${table};

-- name: no_rows
-- No rows, only the column names of the table the other statements reach, as it is in the
-- warehouse (it may predate columns added since).
SELECT * FROM ${table} LIMIT 0;

-- name: holds_rows
-- 1 when the table has a row, else 0, without counting them all.
SELECT COUNT(*) FROM (SELECT 1 FROM ${table} LIMIT 1) AS any_row;

-- name: preview
-- The first rows by the table's first column (its key), for the asset's metadata.
SELECT ${columns} FROM ${table} ORDER BY 1 LIMIT 5;

-- name: drop_temp
DROP TABLE IF EXISTS ${table};

-- name: analyze
-- Fresh planner statistics after a big change (PostgreSQL, Redshift; DuckDB keeps its own).
ANALYZE ${table};
