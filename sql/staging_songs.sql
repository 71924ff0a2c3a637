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
