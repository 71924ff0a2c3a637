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
-- Redshift's COPY of one lake object lands here first, every raw field as text (see
-- staging_events.sql, create_copy_target: the same reasons).
DROP TABLE IF EXISTS staging_songs_copy;
CREATE TEMP TABLE staging_songs_copy (
    num_songs        VARCHAR(65535),
    artist_id        VARCHAR(65535),
    artist_latitude  VARCHAR(65535),
    artist_longitude VARCHAR(65535),
    artist_location  VARCHAR(65535),
    artist_name      VARCHAR(65535),
    song_id          VARCHAR(65535),
    title            VARCHAR(65535),
    duration         VARCHAR(65535),
    year             VARCHAR(65535)
);

-- name: typed_copy
-- Each copied record typed as in staging_events.sql (typed_copy): the same rules, these columns.
SELECT typed_num_songs AS num_songs, typed_artist_id AS artist_id,
       typed_artist_latitude AS artist_latitude, typed_artist_longitude AS artist_longitude,
       typed_artist_location AS artist_location, typed_artist_name AS artist_name,
       typed_song_id AS song_id, typed_title AS title, typed_duration AS duration,
       typed_year AS year,
       (num_songs IS NOT NULL AND typed_num_songs IS NULL)
       OR typed_artist_id IS NULL
       OR (artist_latitude IS NOT NULL AND typed_artist_latitude IS NULL)
       OR (artist_longitude IS NOT NULL AND typed_artist_longitude IS NULL)
       OR (artist_location IS NOT NULL AND typed_artist_location IS NULL)
       OR (artist_name IS NOT NULL AND typed_artist_name IS NULL)
       OR typed_song_id IS NULL
       OR (title IS NOT NULL AND typed_title IS NULL)
       OR (duration IS NOT NULL AND typed_duration IS NULL)
       OR (year IS NOT NULL AND typed_year IS NULL) AS doubtful
FROM (
    SELECT *,
           CASE WHEN num_songs ~ '^-?[0-9]{1,10}([.]0+)?$' THEN
                CASE WHEN CAST(SPLIT_PART(num_songs, '.', 1) AS BIGINT) BETWEEN -2147483648 AND 2147483647
                     THEN CAST(SPLIT_PART(num_songs, '.', 1) AS INTEGER) END END AS typed_num_songs,
           CASE WHEN OCTET_LENGTH(artist_id) <= 32 THEN artist_id END AS typed_artist_id,
           CASE WHEN artist_latitude ~ '^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]{1,2})?$'
                THEN CAST(artist_latitude AS DOUBLE PRECISION) END AS typed_artist_latitude,
           CASE WHEN artist_longitude ~ '^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]{1,2})?$'
                THEN CAST(artist_longitude AS DOUBLE PRECISION) END AS typed_artist_longitude,
           CASE WHEN OCTET_LENGTH(artist_location) <= 512 THEN artist_location END AS typed_artist_location,
           CASE WHEN OCTET_LENGTH(artist_name) <= 512 THEN artist_name END AS typed_artist_name,
           CASE WHEN OCTET_LENGTH(song_id) <= 32 THEN song_id END AS typed_song_id,
           CASE WHEN OCTET_LENGTH(title) <= 512 THEN title END AS typed_title,
           CASE WHEN duration ~ '^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]{1,2})?$'
                THEN CAST(duration AS DOUBLE PRECISION) END AS typed_duration,
           CASE WHEN year ~ '^-?[0-9]{1,5}([.]0+)?$' THEN
                CASE WHEN CAST(SPLIT_PART(year, '.', 1) AS BIGINT) BETWEEN -32768 AND 32767
                     THEN CAST(SPLIT_PART(year, '.', 1) AS SMALLINT) END END AS typed_year
    FROM staging_songs_copy
) AS copied;

-- name: copy_violations
-- How many copied records are doubtful (staging_songs has no record rules beyond its types).
SELECT COUNT(*) FROM (${typed_copy}) AS typed_records WHERE doubtful;

-- name: from_copy_target
-- A clean copied object's rows, typed, tagged with its key (COPY cannot say the line).
INSERT INTO staging_songs (num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name,
       song_id, title, duration, year,
       source_key, source_line, load_batch)
SELECT num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name,
       song_id, title, duration, year,
       %(source_key)s, NULL, %(load_batch)s
FROM (${typed_copy}) AS typed_records;

-- name: empty_copy_target
-- Not TRUNCATE: on Redshift it commits the transaction.
DELETE FROM staging_songs_copy;
