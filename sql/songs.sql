-- songs: one row per song_id in the catalogue. When raw records of one song disagree, the record
-- with the smallest (object key, line) wins, so the answer does not depend on load order.

-- name: create
CREATE TABLE IF NOT EXISTS songs (
    song_id   VARCHAR(32)  NOT NULL,  -- the song's catalogue id
    title     VARCHAR(512),           -- song title
    artist_id VARCHAR(32),            -- the song's artist (artists.artist_id)
    year      SMALLINT,               -- release year; 0 means unknown, as the raw data has it
    duration  DOUBLE PRECISION,       -- seconds, a double (never rounded: plays match on it)
    PRIMARY KEY (song_id)
)
-- Small next to the fact table: a copy on every node, so joins to songplays never move data.
DISTSTYLE ALL
SORTKEY (song_id);

-- name: merge
-- Rebuild the songs that the new batch touches, from every raw record of those songs.
DELETE FROM songs WHERE song_id IN (SELECT song_id FROM new_staging_songs);

INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT song_id, title, artist_id, year, duration
FROM (
    SELECT s.song_id, s.title, s.artist_id, s.year, s.duration,
           ROW_NUMBER() OVER (
               PARTITION BY s.song_id ORDER BY s.source_key, s.source_line
           ) AS preference
    FROM staging_songs AS s
    WHERE s.song_id IN (SELECT song_id FROM new_staging_songs)
) AS ranked
WHERE preference = 1;

-- name: prune
-- After a changed song object replaced its rows: songs no raw record names any more.
DELETE FROM songs WHERE song_id NOT IN (SELECT song_id FROM staging_songs);
