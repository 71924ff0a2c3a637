-- artists: one row per artist_id. Raw song records of one artist can disagree; the chosen record
-- is the one with coordinates, then with a non-empty location, then the smallest
-- (object key, line): deterministic, and the most informative.

-- name: create
CREATE TABLE IF NOT EXISTS artists (
    artist_id VARCHAR(32)  NOT NULL,  -- the artist's catalogue id
    name      VARCHAR(512),           -- artist name
    location  VARCHAR(512),           -- where the artist is from, as written; may be empty
    latitude  DOUBLE PRECISION,       -- degrees; NULL when unknown
    longitude DOUBLE PRECISION,       -- degrees; NULL when unknown
    PRIMARY KEY (artist_id)
)
-- Small: a copy on every node.
DISTSTYLE ALL
SORTKEY (artist_id);

-- name: merge
-- Rebuild the artists that the new batch touches, from every raw record of those artists.
DELETE FROM artists WHERE artist_id IN (SELECT artist_id FROM new_staging_songs);

INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT artist_id, artist_name, artist_location, artist_latitude, artist_longitude
FROM (
    SELECT s.artist_id, s.artist_name, s.artist_location, s.artist_latitude, s.artist_longitude,
           ROW_NUMBER() OVER (
               PARTITION BY s.artist_id
               ORDER BY
                   CASE WHEN s.artist_latitude IS NULL OR s.artist_longitude IS NULL
                        THEN 1 ELSE 0 END,
                   CASE WHEN COALESCE(s.artist_location, '') = '' THEN 1 ELSE 0 END,
                   s.source_key,
                   s.source_line
           ) AS preference
    FROM staging_songs AS s
    WHERE s.artist_id IN (SELECT artist_id FROM new_staging_songs)
) AS ranked
WHERE preference = 1;

-- name: prune
-- After a changed song object replaced its rows: artists no raw record names any more.
DELETE FROM artists WHERE artist_id NOT IN (SELECT artist_id FROM staging_songs);
