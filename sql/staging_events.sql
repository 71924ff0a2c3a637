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
-- once. A load's count is this section and the next added up, by the object each copy came from
-- (a day's partition shows its own). Here: of each event (userId, sessionId, itemInSession, ts)
-- the load carries more than once, the copies beyond the first (in key and line order).
-- Numbered in partitions led by ts, not grouped: PostgreSQL then sorts on a nearly unique number
-- instead of hashing every event (0.9 s against 1.4 s for a million events; DuckDB alike).
SELECT source_key, COUNT(*)
FROM (
    SELECT source_key,
           ROW_NUMBER() OVER (
               PARTITION BY ts, sessionid, iteminsession, userid ORDER BY source_key, source_line
           ) AS copy_number
    FROM staging_events
    WHERE load_batch = %(load_batch)s
) AS numbered
WHERE copy_number > 1
GROUP BY source_key;

-- name: load_span
-- The first and last ts of one load's events: its copies in earlier loads have a ts in between.
SELECT MIN(ts) AS first_ts, MAX(ts) AS last_ts
FROM staging_events
WHERE load_batch = %(load_batch)s;

-- name: duplicates_of_earlier_loads
-- The distinct events of one load that an earlier load staged, each counted in the first object
-- of the load that carries it. Run only when the table held rows before the load (a first load
-- has nothing to compare with), with the load's span: as values, not a subquery, so that the
-- engine skips the blocks of earlier loads outside it.
SELECT first_key, COUNT(*)
FROM (
    SELECT MIN(l.source_key) AS first_key
    FROM staging_events AS l
    JOIN staging_events AS o
      ON o.userid = l.userid AND o.sessionid = l.sessionid
     AND o.iteminsession = l.iteminsession AND o.ts = l.ts
    WHERE l.load_batch = %(load_batch)s
      AND o.load_batch < %(load_batch)s
      AND o.ts BETWEEN %(first_ts)s AND %(last_ts)s
    GROUP BY l.userid, l.sessionid, l.iteminsession, l.ts
) AS staged_before
GROUP BY first_key;

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
FROM typed_records;

-- name: create_copy_target
-- Redshift's COPY of one lake object lands here first, every raw field as text: Redshift's own
-- conversions differ from the rules staging applies (COPY rejects 1540991795796.0 for a BIGINT and
-- loads '' into a number as NULL), so typed_copy applies those rules in SQL instead. No NOT NULL
-- (a missing field is judged there too) and no column outside COPY's list. A field longer than
-- 65535 bytes, or a record that is not JSON, is a load error of the COPY.
DROP TABLE IF EXISTS staging_events_copy;
CREATE TEMP TABLE staging_events_copy (
    artist        VARCHAR(65535),
    auth          VARCHAR(65535),
    firstname     VARCHAR(65535),
    gender        VARCHAR(65535),
    iteminsession VARCHAR(65535),
    lastname      VARCHAR(65535),
    length        VARCHAR(65535),
    level         VARCHAR(65535),
    location      VARCHAR(65535),
    method        VARCHAR(65535),
    page          VARCHAR(65535),
    registration  VARCHAR(65535),
    sessionid     VARCHAR(65535),
    song          VARCHAR(65535),
    status        VARCHAR(65535),
    ts            VARCHAR(65535),
    useragent     VARCHAR(65535),
    userid        VARCHAR(65535)
);

-- name: typed_copy
-- Each copied record typed by the rules the local engines apply while parsing (json_records.py),
-- where a field's text plainly has its column's type: whole numbers of a few digits (an integral
-- fraction such as 1540991795796.0 included), numbers in plain decimal notation, text within its
-- column's length. A record with any other field, or without a required one, is `doubtful`: its
-- object is then parsed by this process, whose rules name each reject with its line. So what
-- COPY can take in place loads exactly as the local engines load it, whatever the object's size.
SELECT typed_artist AS artist, typed_auth AS auth, typed_firstname AS firstname,
       typed_gender AS gender, typed_iteminsession AS iteminsession, typed_lastname AS lastname,
       typed_length AS length, typed_level AS level, typed_location AS location,
       typed_method AS method, typed_page AS page, typed_registration AS registration,
       typed_sessionid AS sessionid, typed_song AS song, typed_status AS status, typed_ts AS ts,
       typed_useragent AS useragent, typed_userid AS userid,
       (artist IS NOT NULL AND typed_artist IS NULL)
       OR (auth IS NOT NULL AND typed_auth IS NULL)
       OR (firstname IS NOT NULL AND typed_firstname IS NULL)
       OR (gender IS NOT NULL AND typed_gender IS NULL)
       OR typed_iteminsession IS NULL
       OR (lastname IS NOT NULL AND typed_lastname IS NULL)
       OR (length IS NOT NULL AND typed_length IS NULL)
       OR (level IS NOT NULL AND typed_level IS NULL)
       OR (location IS NOT NULL AND typed_location IS NULL)
       OR (method IS NOT NULL AND typed_method IS NULL)
       OR typed_page IS NULL
       OR (registration IS NOT NULL AND typed_registration IS NULL)
       OR typed_sessionid IS NULL
       OR (song IS NOT NULL AND typed_song IS NULL)
       OR (status IS NOT NULL AND typed_status IS NULL)
       OR typed_ts IS NULL
       OR (useragent IS NOT NULL AND typed_useragent IS NULL)
       OR (userid IS NOT NULL AND typed_userid IS NULL) AS doubtful
FROM (
    SELECT *,
           CASE WHEN OCTET_LENGTH(artist) <= 512 THEN artist END AS typed_artist,
           CASE WHEN OCTET_LENGTH(auth) <= 32 THEN auth END AS typed_auth,
           CASE WHEN OCTET_LENGTH(firstname) <= 256 THEN firstname END AS typed_firstname,
           CASE WHEN OCTET_LENGTH(gender) <= 16 THEN gender END AS typed_gender,
           CASE WHEN iteminsession ~ '^-?[0-9]{1,10}([.]0+)?$' THEN
                CASE WHEN CAST(SPLIT_PART(iteminsession, '.', 1) AS BIGINT) BETWEEN -2147483648 AND 2147483647
                     THEN CAST(SPLIT_PART(iteminsession, '.', 1) AS INTEGER) END END AS typed_iteminsession,
           CASE WHEN OCTET_LENGTH(lastname) <= 256 THEN lastname END AS typed_lastname,
           CASE WHEN length ~ '^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]{1,2})?$'
                THEN CAST(length AS DOUBLE PRECISION) END AS typed_length,
           CASE WHEN OCTET_LENGTH(level) <= 16 THEN level END AS typed_level,
           CASE WHEN OCTET_LENGTH(location) <= 512 THEN location END AS typed_location,
           CASE WHEN OCTET_LENGTH(method) <= 16 THEN method END AS typed_method,
           CASE WHEN OCTET_LENGTH(page) <= 64 THEN page END AS typed_page,
           CASE WHEN registration ~ '^-?[0-9]{1,18}([.]0+)?$'
                THEN CAST(SPLIT_PART(registration, '.', 1) AS BIGINT) END AS typed_registration,
           CASE WHEN sessionid ~ '^-?[0-9]{1,10}([.]0+)?$' THEN
                CASE WHEN CAST(SPLIT_PART(sessionid, '.', 1) AS BIGINT) BETWEEN -2147483648 AND 2147483647
                     THEN CAST(SPLIT_PART(sessionid, '.', 1) AS INTEGER) END END AS typed_sessionid,
           CASE WHEN OCTET_LENGTH(song) <= 512 THEN song END AS typed_song,
           CASE WHEN status ~ '^-?[0-9]{1,5}([.]0+)?$' THEN
                CASE WHEN CAST(SPLIT_PART(status, '.', 1) AS BIGINT) BETWEEN -32768 AND 32767
                     THEN CAST(SPLIT_PART(status, '.', 1) AS SMALLINT) END END AS typed_status,
           CASE WHEN ts ~ '^-?[0-9]{1,18}([.]0+)?$'
                THEN CAST(SPLIT_PART(ts, '.', 1) AS BIGINT) END AS typed_ts,
           CASE WHEN OCTET_LENGTH(useragent) <= 512 THEN useragent END AS typed_useragent,
           CASE WHEN OCTET_LENGTH(userid) <= 32 THEN userid END AS typed_userid
    FROM staging_events_copy
) AS copied;

-- name: copy_violations
-- How many copied records are doubtful or break a record rule: more than none, and the object is
-- parsed by this process instead (its rejects then get their lines and reasons).
WITH typed_records AS (${typed_copy})
SELECT (SELECT COUNT(*) FROM typed_records WHERE doubtful)
     + (SELECT COUNT(*) FROM (${record_rules}) AS judged WHERE reject_reason IS NOT NULL);

-- name: from_copy_target
-- A clean copied object's rows, typed, tagged with its key (COPY cannot say the line).
INSERT INTO staging_events (artist, auth, firstname, gender, iteminsession, lastname, length, level, location, method,
       page, registration, sessionid, song, status, ts, useragent, userid,
       source_key, source_line, load_batch)
SELECT artist, auth, firstname, gender, iteminsession, lastname, length, level, location, method,
       page, registration, sessionid, song, status, ts, useragent, userid,
       %(source_key)s, NULL, %(load_batch)s
FROM (${typed_copy}) AS typed_records;

-- name: empty_copy_target
-- Not TRUNCATE: on Redshift it commits the transaction.
DELETE FROM staging_events_copy;
