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
