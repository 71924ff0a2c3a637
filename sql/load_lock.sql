-- load_lock: never holds a row. Redshift's LOCK is exclusive (a locked table's readers wait
-- too), so its writers lock this table, which no reader reads, and never the tables analysts,
-- checks, reports and sensors read: two loads still run one after the other, and readers see the
-- last committed state (sql/engines/redshift.sql, `lock`). The other engines lock as they can
-- without blocking readers and never touch it.

-- name: create
CREATE TABLE IF NOT EXISTS load_lock (
    held_by VARCHAR(64)  -- unused: a table needs a column
)
DISTSTYLE ALL;
