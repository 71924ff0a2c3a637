-- staging_events: one row per event line of log_data/, all 18 raw fields as the JSON has them,
-- plus where the line came from. Columns follow the JSONPaths in staging_events.jsonpaths.
-- A NOT NULL raw field is required: a record without it is rejected into staging_rejects.

-- name: create
CREATE TABLE IF NOT EXISTS staging_events (
    artist        VARCHAR(512),
    auth          VARCHAR(32),
    firstname     VARCHAR(256),
    gender        VARCHAR(16),
    iteminsession INTEGER NOT NULL,
    lastname      VARCHAR(256),
    length        DOUBLE PRECISION,
    level         VARCHAR(16),
    location      VARCHAR(512),
    method        VARCHAR(16),
    page          VARCHAR(64) NOT NULL,
    registration  BIGINT,
    sessionid     INTEGER NOT NULL,
    song          VARCHAR(512),
    status        SMALLINT,
    ts            BIGINT NOT NULL,
    useragent     VARCHAR(512),
    -- Text, not a number: logged-out events carry an empty string.
    userid        VARCHAR(32),
    source_key    VARCHAR(1024),
    source_line   INTEGER,
    load_batch    BIGINT NOT NULL
)
-- Rows are spread evenly (no join benefits from co-location: songplays reads a batch at a time);
-- sorted by load_batch so a star table's incremental read of the newest batch skips old blocks.
DISTSTYLE EVEN
SORTKEY (load_batch);

-- name: delete_objects
-- A changed object replaces its own rows: drop what the objects about to be loaded left before.
DELETE FROM staging_events
WHERE source_key IN (SELECT object_key FROM load_objects);

-- name: delete_all
DELETE FROM staging_events;

-- name: latest_batch
SELECT COALESCE(MAX(load_batch), 0) FROM staging_events;

-- name: new_rows
-- The rows of the batches a star table has not taken in yet, as a session-local table.
CREATE TEMP TABLE new_staging_events AS
SELECT * FROM staging_events WHERE load_batch > %(after_batch)s AND load_batch <= %(up_to_batch)s;
