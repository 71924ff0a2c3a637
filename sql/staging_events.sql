-- staging_events: one row per event line of log_data/, all 18 raw fields as the JSON has them,
-- plus where the line came from. Columns follow the JSONPaths in staging_events.jsonpaths.
-- A NOT NULL raw field is required: a record without it is rejected into staging_rejects.

-- name: create
CREATE TABLE IF NOT EXISTS staging_events (
    artist        VARCHAR(512),      -- artist name as the app logged it (NextSong only)
    auth          VARCHAR(32),       -- 'Logged In' or 'Logged Out'
    firstname     VARCHAR(256),      -- user's first name; NULL when logged out
    gender        VARCHAR(16),       -- user's gender, M or F; NULL when logged out
    iteminsession INTEGER NOT NULL,  -- position of the event in its session, from 0
    lastname      VARCHAR(256),      -- user's last name; NULL when logged out
    length        DOUBLE PRECISION,  -- song duration in seconds (NextSong only)
    level         VARCHAR(16),       -- free or paid, at the time of the event
    location      VARCHAR(512),      -- user's location, e.g. 'San Jose-Sunnyvale-Santa Clara, CA'
    method        VARCHAR(16),       -- HTTP method of the request
    page          VARCHAR(64) NOT NULL,  -- app page; 'NextSong' means a song play
    registration  BIGINT,            -- when the user registered, epoch milliseconds
    sessionid     INTEGER NOT NULL,  -- the session the event belongs to
    song          VARCHAR(512),      -- song title as the app logged it (NextSong only)
    status        SMALLINT,          -- HTTP status of the request
    ts            BIGINT NOT NULL,   -- when the event happened, epoch milliseconds (UTC)
    useragent     VARCHAR(512),      -- the user's browser or app
    userid        VARCHAR(32),       -- user id as text; empty for logged-out events
    source_key    VARCHAR(1024),     -- lake object the event came from
    source_line   INTEGER,           -- line of the event in that object, from 1
    load_batch    BIGINT NOT NULL    -- the staging load that brought the row
)
-- Rows are spread evenly (no join benefits from co-location: songplays reads a batch at a time);
-- sorted by load_batch so a star table's incremental read of the newest batch skips old blocks.
DISTSTYLE EVEN
SORTKEY (load_batch);

-- name: analyze
-- Planner statistics for the columns that staging's own queries, the checks and the star tables'
-- reads of a batch filter, join or group on: ANALYZE costs per column, 0.21 s for these against
-- 0.34 s for all 21 (a million events on PostgreSQL).
ANALYZE staging_events (load_batch, ts, userid, sessionid, iteminsession, page, song, artist, source_key);

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
-- Fresh statistics: planners would otherwise guess a temp table's size and pick nested loops.
ANALYZE new_staging_events;

-- name: text_to_repair
-- The distinct non-ASCII titles and artist names of one load's plays, each with how many of the
-- load's fields hold it and its repair if text_repairs has one already: staging repairs the
-- others (sparkify_assets/text_repair.py). Plain ASCII cannot be mis-encoded, and most text is:
-- filtering it out first spares sorting all of it. Text holds a non-ASCII character exactly when
-- it has more bytes than characters; comparing the two lengths costs half a regular expression
-- (0.16 s against 0.34 s for a million events on PostgreSQL).
SELECT named.raw_text, COUNT(*) AS fields, MIN(r.repaired_text) AS known_repair
FROM (
    SELECT song AS raw_text FROM staging_events
    WHERE load_batch = %(load_batch)s AND page = 'NextSong' AND OCTET_LENGTH(song) > LEN(song)
    UNION ALL
    SELECT artist FROM staging_events
    WHERE load_batch = %(load_batch)s AND page = 'NextSong' AND OCTET_LENGTH(artist) > LEN(artist)
) AS named
LEFT JOIN text_repairs AS r ON r.raw_text = named.raw_text
GROUP BY named.raw_text;

-- name: duplicates_in_load
-- Duplicate events: staging keeps every copy, as the lake has them; songplays holds each play
-- once. A load's count is this section and the next added up. Here: of each event (userId,
-- sessionId, itemInSession, ts) the load carries more than once, the copies beyond the first.
-- Numbered in partitions led by ts, not grouped: PostgreSQL then sorts on a nearly unique number
-- instead of hashing every event (0.9 s against 1.4 s for a million events; DuckDB alike).
SELECT COUNT(*)
FROM (
    SELECT ROW_NUMBER() OVER (PARTITION BY ts, sessionid, iteminsession, userid) AS copy_number
    FROM staging_events
    WHERE load_batch = %(load_batch)s
) AS numbered
WHERE copy_number > 1;

-- name: load_span
-- The first and last ts of one load's events: its copies in earlier loads have a ts in between.
SELECT MIN(ts) AS first_ts, MAX(ts) AS last_ts
FROM staging_events
WHERE load_batch = %(load_batch)s;

-- name: duplicates_of_earlier_loads
-- The distinct events of one load that an earlier load staged. Run only when the table held rows
-- before the load (a first load has nothing to compare with), with the load's span: as values,
-- not a subquery, so that the engine skips the blocks of earlier loads outside it.
SELECT COUNT(*)
FROM (
    SELECT DISTINCT l.userid, l.sessionid, l.iteminsession, l.ts
    FROM staging_events AS l
    JOIN staging_events AS o
      ON o.userid = l.userid AND o.sessionid = l.sessionid
     AND o.iteminsession = l.iteminsession AND o.ts = l.ts
    WHERE l.load_batch = %(load_batch)s
      AND o.load_batch < %(load_batch)s
      AND o.ts BETWEEN %(first_ts)s AND %(last_ts)s
) AS staged_before;

-- name: record_rules
-- What a column's type cannot say about a record: the reason it is rejected, NULL when none. The
-- local engines apply these while parsing (sparkify_assets/resources/engines/json_records.py
-- takes the CASE), Redshift after each COPY. ts must become a timestamp on every engine.
SELECT CASE
           WHEN userid <> ''
                AND CASE WHEN userid ~ '^[0-9]{1,10}$'
                         THEN CAST(userid AS BIGINT) > 2147483647
                         ELSE TRUE END
               THEN 'userId is neither empty nor a whole number'
           WHEN ts NOT BETWEEN 0 AND 253402300799999
               THEN 'ts is not between 1970 and 9999'
       END AS reject_reason
FROM staging_events_copy;

-- name: create_copy_target
-- Redshift's COPY of one lake object lands here first: the raw columns only, so that COPY's column
-- list names every column (a NOT NULL column left out of the list fails the whole COPY). A record
-- missing a required field is a row error of that COPY. Not `(LIKE staging_events)`: that would copy
-- the NOT NULL of load_batch, which COPY does not fill.
DROP TABLE IF EXISTS staging_events_copy;
CREATE TEMP TABLE staging_events_copy (
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
    userid        VARCHAR(32)
);

-- name: copy_violations
-- How many copied records break a rule that COPY itself does not apply.
SELECT COUNT(*) FROM (${record_rules}) AS judged
WHERE reject_reason IS NOT NULL;

-- name: from_copy_target
-- A clean copied object's rows, tagged with its key (COPY cannot say the line).
INSERT INTO staging_events (artist, auth, firstname, gender, iteminsession, lastname, length, level, location, method,
       page, registration, sessionid, song, status, ts, useragent, userid, source_key, source_line, load_batch)
SELECT artist, auth, firstname, gender, iteminsession, lastname, length, level, location, method,
       page, registration, sessionid, song, status, ts, useragent, userid, %(source_key)s, NULL, %(load_batch)s
FROM staging_events_copy;

-- name: empty_copy_target
-- Not TRUNCATE: on Redshift it commits the transaction.
DELETE FROM staging_events_copy;
