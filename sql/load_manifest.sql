-- load_manifest: one row per lake object loaded into a staging table, with the version that was
-- loaded (ETag, or size and mtime for a folder). A run loads only objects whose version differs.

-- name: create
CREATE TABLE IF NOT EXISTS load_manifest (
    table_name    VARCHAR(64)   NOT NULL,
    object_key    VARCHAR(1024) NOT NULL,
    etag          VARCHAR(128)  NOT NULL,
    size          BIGINT        NOT NULL,
    load_batch    BIGINT        NOT NULL,
    rows_loaded   BIGINT        NOT NULL,
    rows_rejected BIGINT        NOT NULL,
    loaded_at     TIMESTAMP     NOT NULL,
    duplicate_events BIGINT     DEFAULT 0 NOT NULL  -- its events copying one staged before it
)
-- Small and read whole by every staging run: a copy on every node.
DISTSTYLE ALL
SORTKEY (table_name, object_key);

-- name: added_columns
-- Columns added since the first release, one statement each: a warehouse built before one was
-- added gains it (with the value its older loads hold) the first time a run opens the table.
ALTER TABLE load_manifest ADD COLUMN duplicate_events BIGINT DEFAULT 0 NOT NULL;

-- name: delete_objects
DELETE FROM load_manifest
WHERE table_name = %(table_name)s AND object_key IN (SELECT object_key FROM load_objects);

-- name: delete_all
DELETE FROM load_manifest WHERE table_name = %(table_name)s;

-- name: record_objects
-- The objects of load `load_batch` (in `load_objects`, with the records staging counted in each),
-- with the rows and rejects each gave: its records are one or the other, and rejects are few, so
-- only they are counted here (counting rows took a scan of the load, 0.3 s for a million events).
INSERT INTO load_manifest
    (table_name, object_key, etag, size, load_batch, rows_loaded, rows_rejected, loaded_at)
SELECT %(table_name)s, o.object_key, o.etag, o.size, %(load_batch)s,
       o.records - COALESCE(rejected.n, 0), COALESCE(rejected.n, 0),
       CAST(%(loaded_at)s AS TIMESTAMP)
FROM load_objects AS o
LEFT JOIN (
    SELECT source_key, COUNT(*) AS n FROM staging_rejects
    WHERE table_name = %(table_name)s AND load_batch = %(load_batch)s
    GROUP BY source_key
) AS rejected ON rejected.source_key = o.object_key;

-- name: versions_of_objects
-- The loaded version of each key in `load_objects` (what a load or a sensor tick listed). A join
-- on exact keys, not a key range: PostgreSQL under a locale collation does not order keys as S3
-- does.
SELECT m.object_key, m.etag
FROM load_manifest AS m
JOIN load_objects AS o ON o.object_key = m.object_key
WHERE m.table_name = %(table_name)s;

-- name: keys
SELECT object_key FROM load_manifest WHERE table_name = %(table_name)s;

-- name: record_duplicates
-- How many of one object's events copy an event staged before them (few objects have any).
UPDATE load_manifest SET duplicate_events = %(duplicate_events)s
WHERE table_name = %(table_name)s AND object_key = %(object_key)s;

-- name: counts_of_objects
-- What each object in `load_objects` gave its table when it last loaded: a day's partition sums
-- its objects' counts, without a scan of the table.
SELECT m.object_key, m.rows_loaded, m.rows_rejected, m.duplicate_events
FROM load_manifest AS m
JOIN load_objects AS o ON o.object_key = m.object_key
WHERE m.table_name = %(table_name)s;
