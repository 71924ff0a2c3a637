-- staging_songs: one row per song object of song_data/, all 10 raw fields as the JSON has them,
-- plus where the object came from. Columns follow the JSONPaths in staging_songs.jsonpaths.
-- A NOT NULL raw field is required: a record without it is rejected into staging_rejects.

-- name: create
CREATE TABLE IF NOT EXISTS staging_songs (
    num_songs        INTEGER,            -- songs in the record (1 in the Million Song Dataset)
    artist_id        VARCHAR(32) NOT NULL,  -- artist's id, e.g. 'ARJIE2Y1187B994AB7'
    artist_latitude  DOUBLE PRECISION,   -- artist's latitude, NULL when unknown
    artist_longitude DOUBLE PRECISION,   -- artist's longitude, NULL when unknown
    artist_location  VARCHAR(512),       -- artist's location as written, often empty
    artist_name      VARCHAR(512),       -- artist's name (a JSON number keeps its text)
    song_id          VARCHAR(32) NOT NULL,  -- song's id, e.g. 'SOUPIRU12A6D4FA1E1'
    title            VARCHAR(512),       -- song title (a JSON number keeps its text)
    duration         DOUBLE PRECISION,   -- song duration in seconds
    year             SMALLINT,           -- release year; 0 when unknown
    source_key       VARCHAR(1024),      -- lake object the song came from
    source_line      INTEGER,            -- line of the record in that object (1)
    load_batch       BIGINT NOT NULL     -- the staging load that brought the row
)
-- Spread evenly; sorted by load_batch so the songs/artists merges read only the newest batch.
DISTSTYLE EVEN
SORTKEY (load_batch);

-- name: delete_objects
-- A changed object replaces its own rows: drop what the objects about to be loaded left before.
DELETE FROM staging_songs
WHERE source_key IN (SELECT object_key FROM load_objects);

-- name: delete_all
DELETE FROM staging_songs;

-- name: latest_batch
SELECT COALESCE(MAX(load_batch), 0) FROM staging_songs;

-- name: new_rows
-- The rows of the batches a star table has not taken in yet, as a session-local table.
CREATE TEMP TABLE new_staging_songs AS
SELECT * FROM staging_songs WHERE load_batch > %(after_batch)s AND load_batch <= %(up_to_batch)s;
-- Fresh statistics: planners would otherwise guess a temp table's size and pick nested loops.
ANALYZE new_staging_songs;

-- name: create_copy_target
-- Redshift's COPY of one lake object lands here first: the raw columns only, so that COPY's column
-- list names every column (a NOT NULL column left out of the list fails the whole COPY). A record
-- missing a required field is a row error of that COPY. Not `(LIKE staging_songs)`: that would copy
-- the NOT NULL of load_batch, which COPY does not fill.
DROP TABLE IF EXISTS staging_songs_copy;
CREATE TEMP TABLE staging_songs_copy (
    num_songs        INTEGER,
    artist_id        VARCHAR(32) NOT NULL,
    artist_latitude  DOUBLE PRECISION,
    artist_longitude DOUBLE PRECISION,
    artist_location  VARCHAR(512),
    artist_name      VARCHAR(512),
    song_id          VARCHAR(32) NOT NULL,
    title            VARCHAR(512),
    duration         DOUBLE PRECISION,
    year             SMALLINT
);

-- name: copy_violations
-- How many copied records break a rule that COPY itself does not apply.
SELECT COUNT(*) FROM (SELECT CAST(NULL AS VARCHAR) AS reject_reason FROM staging_songs_copy) AS judged
WHERE reject_reason IS NOT NULL;

-- name: from_copy_target
-- A clean copied object's rows, tagged with its key (COPY cannot say the line).
INSERT INTO staging_songs (num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name,
       song_id, title, duration, year, source_key, source_line, load_batch)
SELECT num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name,
       song_id, title, duration, year, %(source_key)s, NULL, %(load_batch)s
FROM staging_songs_copy;

-- name: empty_copy_target
-- Not TRUNCATE: on Redshift it commits the transaction.
DELETE FROM staging_songs_copy;
