-- staging_rejects: one row per raw record (or whole object) that could not be staged, with where
-- it came from, why, and the start of its raw text. The rest of its object still loads.

-- name: create
CREATE TABLE IF NOT EXISTS staging_rejects (
    table_name  VARCHAR(64)   NOT NULL,
    source_key  VARCHAR(1024) NOT NULL,
    -- NULL when the whole object was rejected (unreadable, not UTF-8).
    source_line INTEGER,
    reason      VARCHAR(256)  NOT NULL,
    -- The first 300 characters of the record (up to 4 bytes each in UTF-8).
    raw_text    VARCHAR(1200),
    load_batch  BIGINT        NOT NULL
)
DISTSTYLE EVEN
SORTKEY (load_batch);

-- name: delete_objects
DELETE FROM staging_rejects
WHERE table_name = %(table_name)s AND source_key IN (SELECT object_key FROM load_objects);

-- name: delete_all
DELETE FROM staging_rejects WHERE table_name = %(table_name)s;

-- name: sample
-- The first rejects of one load, for the asset's metadata.
SELECT source_key, source_line, reason
FROM staging_rejects
WHERE table_name = %(table_name)s AND load_batch = %(load_batch)s
ORDER BY source_key, source_line
LIMIT 10;

-- name: by_reason
-- One load's rejects grouped by reason (a reason names its key: 'missing sessionId', 'ts: not a
-- whole number ...'), so a drifted key reads as one line: how many, and the first object.
SELECT reason, COUNT(*) AS records, MIN(source_key) AS first_object
FROM staging_rejects
WHERE table_name = %(table_name)s AND load_batch = %(load_batch)s
GROUP BY reason
ORDER BY records DESC, reason
LIMIT 20;
