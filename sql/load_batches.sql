-- load_batches: one row per staging load that took in at least one object. Batch numbers only
-- grow, even across full refreshes, so a star table's watermark never points past new data.

-- name: create
CREATE TABLE IF NOT EXISTS load_batches (
    load_batch    BIGINT      NOT NULL,
    table_name    VARCHAR(64) NOT NULL,
    objects       BIGINT      NOT NULL,
    rows_loaded   BIGINT      NOT NULL,
    rows_rejected BIGINT      NOT NULL,
    -- Rows of earlier versions of changed objects that this load replaced.
    rows_replaced BIGINT      NOT NULL,
    -- Events that copy one staged before (see staging_events.sql), and mis-encoded titles and
    -- artist names repaired (text_repairs.sql); 0 where a table has neither.
    duplicate_events BIGINT   NOT NULL,
    repaired_values  BIGINT   NOT NULL,
    full_refresh  BOOLEAN     NOT NULL,
    loaded_at     TIMESTAMP   NOT NULL
)
DISTSTYLE ALL
SORTKEY (load_batch);

-- name: added_columns
-- Columns added since the first release, one statement each: a warehouse built before one was
-- added gains it (with the value its older loads hold) the first time a run opens the table.
ALTER TABLE load_batches ADD COLUMN duplicate_events BIGINT DEFAULT 0 NOT NULL;
ALTER TABLE load_batches ADD COLUMN repaired_values BIGINT DEFAULT 0 NOT NULL;

-- name: next_batch
SELECT COALESCE(MAX(load_batch), 0) + 1 FROM load_batches;

-- name: record
-- Load `load_batch`, once its objects are in load_manifest: how many objects, rows and rejects.
INSERT INTO load_batches
    (load_batch, table_name, objects, rows_loaded, rows_rejected, rows_replaced, duplicate_events,
     repaired_values, full_refresh, loaded_at)
SELECT %(load_batch)s, %(table_name)s, COUNT(*), COALESCE(SUM(rows_loaded), 0),
       COALESCE(SUM(rows_rejected), 0), %(rows_replaced)s, %(duplicate_events)s,
       %(repaired_values)s, %(full_refresh)s, CAST(%(loaded_at)s AS TIMESTAMP)
FROM load_manifest
WHERE table_name = %(table_name)s AND load_batch = %(load_batch)s;

-- name: totals
SELECT objects, rows_loaded, rows_rejected FROM load_batches WHERE load_batch = %(load_batch)s;

-- name: rows_replaced
-- Whether the loads in a window replaced earlier rows: then star tables prune what they lost.
SELECT COALESCE(SUM(rows_replaced), 0)
FROM load_batches
WHERE table_name = %(table_name)s
  AND load_batch > %(after_batch)s AND load_batch <= %(up_to_batch)s;
