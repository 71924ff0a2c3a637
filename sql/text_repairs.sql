-- text_repairs: song titles and artist names the app logged mis-encoded (its UTF-8 bytes read as
-- Latin-1, often twice over: "TÃº" for "Tú"), each with its repaired text. Filled while staging
-- events (sparkify_assets/text_repair.py): no engine's SQL can re-read text as another encoding.
-- Staging keeps the raw text; songplays matches the catalogue on the repaired text.

-- name: create
CREATE TABLE IF NOT EXISTS text_repairs (
    raw_text      VARCHAR(512) NOT NULL,  -- as the app logged it, and as staged
    repaired_text VARCHAR(512) NOT NULL,  -- decoded again until that no longer round-trips
    load_batch    BIGINT       NOT NULL,  -- the event load that first brought it
    PRIMARY KEY (raw_text)
)
DISTSTYLE ALL
SORTKEY (raw_text);

-- name: record
INSERT INTO text_repairs (raw_text, repaired_text, load_batch)
VALUES (%(raw_text)s, %(repaired_text)s, %(load_batch)s);

-- name: repaired_in_batch
-- How many titles and artist names of one event load's plays were repaired (each field counts).
SELECT COUNT(song_fix.raw_text) + COUNT(artist_fix.raw_text)
FROM staging_events AS e
LEFT JOIN text_repairs AS song_fix ON song_fix.raw_text = e.song
LEFT JOIN text_repairs AS artist_fix ON artist_fix.raw_text = e.artist
WHERE e.load_batch = %(load_batch)s AND e.page = 'NextSong';
