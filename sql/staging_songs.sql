-- staging_songs: one row per song object of song_data/, all 10 raw fields as the JSON has them,
-- plus where the object came from. Columns follow the JSONPaths in staging_songs.jsonpaths.
-- A NOT NULL raw field is required: a record without it is rejected into staging_rejects.

-- name: create
CREATE TABLE IF NOT EXISTS staging_songs (
    num_songs        INTEGER,
    artist_id        VARCHAR(32) NOT NULL,
    artist_latitude  DOUBLE PRECISION,
    artist_longitude DOUBLE PRECISION,
    artist_location  VARCHAR(512),
    artist_name      VARCHAR(512),
    song_id          VARCHAR(32) NOT NULL,
    title            VARCHAR(512),
    duration         DOUBLE PRECISION,
    year             SMALLINT,
    source_key       VARCHAR(1024),
    source_line      INTEGER,
    load_batch       BIGINT NOT NULL
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
