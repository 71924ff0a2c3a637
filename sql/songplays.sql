-- songplays: one row per play, a 'NextSong' event with a non-empty userId (a play by a logged-in
-- user), however many lake objects carry it. A play is its natural key (userId, sessionId,
-- itemInSession, ts); songplay_id is the md5 of userId:sessionId:itemInSession:ts, so a reload
-- or rerun yields the same id. Of several copies, the one in the smallest object key (then line)
-- owns the play: its fields and source_key are the row's. song_id/artist_id come from the
-- catalogue song with exactly the same title, artist name and duration, compared on the
-- repaired text (text_repairs), else NULL.

-- name: create
CREATE TABLE IF NOT EXISTS songplays (
    songplay_id VARCHAR(32)   NOT NULL,  -- md5 of the event's userId:sessionId:itemInSession:ts
    start_time  TIMESTAMP     NOT NULL,  -- when the play started (UTC, with milliseconds)
    user_id     INTEGER       NOT NULL,  -- who played (users.user_id)
    level       VARCHAR(16),             -- free or paid, at the time of the play
    song_id     VARCHAR(32),             -- the catalogue song (songs.song_id), NULL if not in it
    artist_id   VARCHAR(32),             -- the catalogue artist (artists.artist_id), NULL if not
    session_id  INTEGER,                 -- the app session of the play
    location    VARCHAR(512),            -- the user's location at the time of the play
    user_agent  VARCHAR(512),            -- the user's browser or app
    source_key  VARCHAR(1024) NOT NULL,  -- the event log object the play came from
    PRIMARY KEY (songplay_id)
)
-- Not on song_id (mostly NULL: most plays are not in the catalogue, so one node would get them)
-- nor user_id (few distinct users); start_time spreads evenly and co-locates with "time".
-- Sorted on start_time: analytics filter by time, and each load appends the newest times.
DISTKEY (start_time)
SORTKEY (start_time);

-- name: merge
-- Event objects whose plays change in this run: those with new events, and those with events
-- naming a song that just arrived in the catalogue (their song_id was NULL until now).
CREATE TEMP TABLE songplays_objects AS
SELECT DISTINCT e.source_key FROM new_staging_events AS e
UNION
SELECT DISTINCT e.source_key
FROM staging_events AS e
LEFT JOIN text_repairs AS song_fix ON song_fix.raw_text = e.song
LEFT JOIN text_repairs AS artist_fix ON artist_fix.raw_text = e.artist
JOIN new_staging_songs AS s
  ON COALESCE(song_fix.repaired_text, e.song) = s.title
 AND COALESCE(artist_fix.repaired_text, e.artist) = s.artist_name
 AND e.length = s.duration
-- A day of events brings no songs: then the pass over every event is skipped.
WHERE EXISTS (SELECT 1 FROM new_staging_songs) AND e.page = 'NextSong';

ANALYZE songplays_objects;

-- The plays those objects carry: each is re-made from its owning copy, wherever that lies.
CREATE TEMP TABLE songplays_keys AS
SELECT DISTINCT e.userid, e.sessionid, e.iteminsession, e.ts,
       MD5(e.userid || ':' || CAST(e.sessionid AS VARCHAR) || ':'
           || CAST(e.iteminsession AS VARCHAR) || ':' || CAST(e.ts AS VARCHAR)) AS songplay_id
FROM staging_events AS e
JOIN songplays_objects AS o ON o.source_key = e.source_key
WHERE e.page = 'NextSong' AND e.userid <> '';

-- Plays those objects owned but carry no more (a changed object lost the event): another
-- object's copy, if any, owns them now. Almost always none: then the scan below is skipped.
CREATE TEMP TABLE songplays_lost AS
SELECT f.songplay_id FROM songplays AS f
WHERE f.source_key IN (SELECT source_key FROM songplays_objects)
  AND f.songplay_id NOT IN (SELECT songplay_id FROM songplays_keys);

INSERT INTO songplays_keys (userid, sessionid, iteminsession, ts, songplay_id)
SELECT DISTINCT userid, sessionid, iteminsession, ts, songplay_id
FROM (
    SELECT e.userid, e.sessionid, e.iteminsession, e.ts,
           MD5(e.userid || ':' || CAST(e.sessionid AS VARCHAR) || ':'
               || CAST(e.iteminsession AS VARCHAR) || ':' || CAST(e.ts AS VARCHAR)) AS songplay_id
    FROM staging_events AS e
    WHERE EXISTS (SELECT 1 FROM songplays_lost) AND e.page = 'NextSong' AND e.userid <> ''
) AS copies
WHERE songplay_id IN (SELECT songplay_id FROM songplays_lost);

ANALYZE songplays_keys;

DELETE FROM songplays
WHERE source_key IN (SELECT source_key FROM songplays_objects)
   OR songplay_id IN (SELECT songplay_id FROM songplays_keys);

INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id,
                       location, user_agent, source_key)
SELECT e.songplay_id,
       TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second',
       CAST(e.userid AS INTEGER),
       e.level,
       catalogue.song_id,
       catalogue.artist_id,
       e.sessionid,
       e.location,
       e.useragent,
       e.source_key
FROM (
    -- Every copy of those plays; the first by (object key, line) owns its play.
    SELECT e.*, k.songplay_id,
           ROW_NUMBER() OVER (
               PARTITION BY k.songplay_id ORDER BY e.source_key, e.source_line
           ) AS copy
    FROM staging_events AS e
    JOIN songplays_keys AS k
      ON k.userid = e.userid AND k.sessionid = e.sessionid
     AND k.iteminsession = e.iteminsession AND k.ts = e.ts
    WHERE e.page = 'NextSong'
) AS e
LEFT JOIN text_repairs AS song_fix ON song_fix.raw_text = e.song
LEFT JOIN text_repairs AS artist_fix ON artist_fix.raw_text = e.artist
LEFT JOIN (
    -- One catalogue entry per (title, artist name, duration): the smallest song_id, artist_id.
    SELECT title, artist_name, duration, song_id, artist_id,
           ROW_NUMBER() OVER (
               PARTITION BY title, artist_name, duration ORDER BY song_id, artist_id
           ) AS preference
    FROM staging_songs
) AS catalogue
  ON catalogue.title = COALESCE(song_fix.repaired_text, e.song)
 AND catalogue.artist_name = COALESCE(artist_fix.repaired_text, e.artist)
 AND catalogue.duration = e.length
 AND catalogue.preference = 1
WHERE e.copy = 1;
