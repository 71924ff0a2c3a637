-- Asset checks: each section selects the rows that break one rule, key first, nothing when the
-- rule holds. Sections are named <table>__<check>; sparkify_assets/checks.py counts the rows and
-- shows up to 10 of them.
--
-- A check that runs in the run that loaded its table looks at what that load touched: the rule's
-- tables marked in checks.py are read from temp tables of their `recent__<table>` rows below.
-- Rows that were checked when they arrived are not checked again every day; the checks job
-- checks everything.

-- name: failing_sample
-- The rows that break the rule spliced in below, the first `sample_rows` by key, each with how
-- many there are in all: one pass, the count riding along as a window.
SELECT failing.*, COUNT(*) OVER () AS failing_rows
FROM (${rule}) AS failing
ORDER BY 1
LIMIT %(sample_rows)s;

-- name: latest_events_batch
-- The latest event load; none when it is all that is staged (the first load, a full refresh):
-- then there is nothing to narrow, and narrowing would cost more than it saves.
SELECT MAX(load_batch) FROM load_batches
WHERE table_name = 'staging_events'
  AND load_batch >= (
      SELECT COALESCE(MAX(load_batch), 0) FROM load_batches
      WHERE table_name = 'staging_events' AND full_refresh
  )
HAVING COUNT(*) > 1;

-- name: recent__staging_events
-- The events of the latest event load.
DROP TABLE IF EXISTS recent_staging_events;
CREATE TEMP TABLE recent_staging_events AS
SELECT * FROM staging_events WHERE load_batch = %(latest_events_batch)s;
ANALYZE recent_staging_events;

-- name: recent__users
-- The users with events in the latest event load.
DROP TABLE IF EXISTS recent_users;
CREATE TEMP TABLE recent_users AS
SELECT * FROM users
WHERE user_id IN (
    SELECT CAST(userid AS INTEGER) FROM staging_events
    WHERE userid <> '' AND load_batch = %(latest_events_batch)s
);
ANALYZE recent_users;

-- name: recent__songplays
-- The plays of the events of the latest event load (whichever object owns them), the plays its
-- objects own, and every play sharing their ids.
DROP TABLE IF EXISTS recent_songplays;
CREATE TEMP TABLE recent_songplays AS
SELECT * FROM songplays
WHERE songplay_id IN (
    SELECT MD5(userid || ':' || CAST(sessionid AS VARCHAR) || ':'
               || CAST(iteminsession AS VARCHAR) || ':' || CAST(ts AS VARCHAR))
    FROM staging_events
    WHERE load_batch = %(latest_events_batch)s AND page = 'NextSong' AND userid <> ''
    UNION
    SELECT songplay_id FROM songplays
    WHERE source_key IN (SELECT source_key FROM staging_events WHERE load_batch = %(latest_events_batch)s)
);
ANALYZE recent_songplays;

-- name: recent__time
-- The timestamps of the plays of the latest event load.
DROP TABLE IF EXISTS recent_time;
CREATE TEMP TABLE recent_time AS
SELECT * FROM "time"
WHERE start_time IN (
    SELECT start_time FROM songplays
    WHERE source_key IN (SELECT source_key FROM staging_events WHERE load_batch = %(latest_events_batch)s)
);
ANALYZE recent_time;

-- name: touched__users
-- A star table's blocking rules audit the rows its merge is about to publish, in the merge's own
-- transaction (audit.py). After an incremental merge they read what it touched, from the
-- temp tables the merge left (new_staging_events, songplays_keys), as these `recent_` tables.
-- Here: the users the merge rebuilt, those with events in the batches it took in.
DROP TABLE IF EXISTS recent_users;
CREATE TEMP TABLE recent_users AS
SELECT * FROM users
WHERE user_id IN (SELECT CAST(userid AS INTEGER) FROM new_staging_events WHERE userid <> '');
ANALYZE recent_users;

-- name: touched__time
-- The play times of the batches the merge took in.
DROP TABLE IF EXISTS recent_time;
CREATE TEMP TABLE recent_time AS
SELECT * FROM "time"
WHERE start_time IN (
    SELECT TIMESTAMP 'epoch' + ts / 1000.0 * INTERVAL '1 second' FROM new_staging_events
    WHERE page = 'NextSong' AND userid <> ''
);
ANALYZE recent_time;

-- name: touched__songplays
-- The plays the merge re-made, and every row sharing their ids.
DROP TABLE IF EXISTS recent_songplays;
CREATE TEMP TABLE recent_songplays AS
SELECT * FROM songplays WHERE songplay_id IN (SELECT songplay_id FROM songplays_keys);
ANALYZE recent_songplays;

-- name: staging_events__not_empty
-- The lake held event objects, yet no event row is staged.
SELECT table_name, COUNT(*) AS objects
FROM load_manifest
WHERE table_name = 'staging_events'
  AND NOT EXISTS (SELECT 1 FROM staging_events)
GROUP BY table_name;

-- name: staging_songs__not_empty
SELECT table_name, COUNT(*) AS objects
FROM load_manifest
WHERE table_name = 'staging_songs'
  AND NOT EXISTS (SELECT 1 FROM staging_songs)
GROUP BY table_name;

-- name: staging_events__level_domain
-- Events of logged-in users whose level is neither free nor paid: users and songplays would
-- refuse them.
SELECT source_key, source_line, level FROM staging_events
WHERE userid <> '' AND (level IS NULL OR level NOT IN ('free', 'paid'));

-- name: staging_events__not_in_future
-- Events stamped later than now: songplays would hold plays that have not happened.
SELECT source_key, source_line, ts FROM staging_events
WHERE TIMESTAMP 'epoch' + ts / 1000.0 * INTERVAL '1 second' > CAST(%(now)s AS TIMESTAMP);

-- name: staging_events__no_duplicate_events
-- The latest event load when it brought copies of events staged before (staging keeps them;
-- songplays holds each play once).
SELECT load_batch, duplicate_events FROM load_batches
WHERE table_name = 'staging_events' AND duplicate_events > 0
  AND load_batch = (SELECT MAX(load_batch) FROM load_batches WHERE table_name = 'staging_events');

-- name: staging_events__no_repaired_text
-- The latest event load when titles or artist names in it were mis-encoded (repaired for the
-- catalogue match; see text_repairs).
SELECT load_batch, repaired_values FROM load_batches
WHERE table_name = 'staging_events' AND repaired_values > 0
  AND load_batch = (SELECT MAX(load_batch) FROM load_batches WHERE table_name = 'staging_events');

-- name: staging__reject_rate
-- The objects of a staging table's latest load, worst first, when its reject rate is over the
-- limit (the table_name parameter: staging_events or staging_songs).
SELECT m.object_key, m.rows_rejected, m.rows_loaded
FROM load_manifest AS m
JOIN load_batches AS b ON b.load_batch = m.load_batch AND b.table_name = m.table_name
WHERE m.table_name = %(table_name)s
  AND m.rows_rejected > 0
  AND b.load_batch = (SELECT MAX(load_batch) FROM load_batches WHERE table_name = %(table_name)s)
  AND b.rows_rejected > %(max_reject_rate)s * (b.rows_loaded + b.rows_rejected);

-- name: staging__no_rejects
-- Every record of a staging table quarantined so far, with its reason: worth a look even under
-- the rate limit.
SELECT source_key, source_line, reason
FROM staging_rejects
WHERE table_name = %(table_name)s;

-- name: staging__no_skipped_objects
-- Objects under the table's lake prefix that its latest run listed and did not load, as they are
-- not data (an empty object, a marker such as _SUCCESS, another suffix): data may hide there.
SELECT object_key, reason, size
FROM skipped_objects
WHERE table_name = %(table_name)s;

-- name: staging__no_schema_drift
-- The keys the records of the table's latest load and its JSONPaths disagree on: unmapped (in
-- records, in no column) or missing (mapped, absent from records), with how many records and
-- the first object.
SELECT json_key, drift, records, first_object
FROM schema_drift
WHERE table_name = %(table_name)s
  AND load_batch = (SELECT MAX(load_batch) FROM load_batches WHERE table_name = %(table_name)s);

-- name: staging_songs__one_version_per_song
-- A song_id whose raw records disagree on what the song is.
SELECT song_id, COUNT(DISTINCT title) AS titles, COUNT(*) AS records
FROM staging_songs
GROUP BY song_id
HAVING COUNT(DISTINCT title) > 1
    OR COUNT(DISTINCT artist_id) > 1
    OR COUNT(DISTINCT duration) > 1
    OR COUNT(DISTINCT year) > 1;

-- name: users__key
SELECT user_id, COUNT(*) AS copies FROM users GROUP BY user_id
HAVING user_id IS NULL OR COUNT(*) > 1;

-- name: users__level_domain
SELECT user_id, level FROM users WHERE level IS NULL OR level NOT IN ('free', 'paid');

-- name: users__gender_domain
SELECT user_id, gender FROM users WHERE gender NOT IN ('M', 'F');

-- name: users__matches_staging
-- Users missing from the dimension, or present without any event.
SELECT CAST(e.userid AS INTEGER) AS user_id, 'missing' AS problem
FROM staging_events AS e
WHERE e.userid <> ''
  AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.user_id = CAST(e.userid AS INTEGER))
GROUP BY CAST(e.userid AS INTEGER)
UNION ALL
SELECT u.user_id, 'no events' AS problem
FROM users AS u
WHERE NOT EXISTS (
    SELECT 1 FROM staging_events AS e
    WHERE e.userid <> '' AND CAST(e.userid AS INTEGER) = u.user_id
);

-- name: users__level_is_latest
-- A user whose level is not the level of the user's latest event. As in users.sql: the largest
-- ts, then paid over free, and a NULL level first (it sorts first in a descending order). An
-- aggregate, not a window over every event: the same answer at a fraction of the cost.
SELECT u.user_id, u.level, latest.level AS latest_level
FROM users AS u
JOIN (
    SELECT l.user_id,
           CASE WHEN COUNT(*) > COUNT(e.level) THEN NULL ELSE MAX(e.level) END AS level
    FROM (
        SELECT CAST(userid AS INTEGER) AS user_id, MAX(ts) AS ts
        FROM staging_events
        WHERE userid <> '' AND CAST(userid AS INTEGER) IN (SELECT user_id FROM users)
        GROUP BY CAST(userid AS INTEGER)
    ) AS l
    JOIN staging_events AS e
      ON e.userid <> '' AND CAST(e.userid AS INTEGER) = l.user_id AND e.ts = l.ts
    GROUP BY l.user_id
) AS latest ON latest.user_id = u.user_id
WHERE COALESCE(u.level, '') <> COALESCE(latest.level, '');

-- name: songs__key
SELECT song_id, COUNT(*) AS copies FROM songs GROUP BY song_id
HAVING song_id IS NULL OR COUNT(*) > 1;

-- name: songs__duration_positive
SELECT song_id, duration FROM songs WHERE duration IS NULL OR duration <= 0;

-- name: songs__year_plausible
-- 0 means unknown; anything else should be a real year.
SELECT song_id, year FROM songs
WHERE year IS NULL OR (year <> 0 AND (year < 1900 OR year > %(next_year)s));

-- name: artists__key
SELECT artist_id, COUNT(*) AS copies FROM artists GROUP BY artist_id
HAVING artist_id IS NULL OR COUNT(*) > 1;

-- name: artists__coordinates_in_range
SELECT artist_id, latitude, longitude FROM artists
WHERE latitude NOT BETWEEN -90 AND 90 OR longitude NOT BETWEEN -180 AND 180;

-- name: time__key
SELECT start_time, COUNT(*) AS copies FROM "time" GROUP BY start_time
HAVING start_time IS NULL OR COUNT(*) > 1;

-- name: time__parts_in_range
SELECT start_time, "hour", "day", week, "month", weekday FROM "time"
WHERE "hour" NOT BETWEEN 0 AND 23
   OR "day" NOT BETWEEN 1 AND 31
   OR week NOT BETWEEN 1 AND 53
   OR "month" NOT BETWEEN 1 AND 12
   OR weekday NOT BETWEEN 0 AND 6;

-- name: songplays__key
SELECT songplay_id, COUNT(*) AS copies FROM songplays GROUP BY songplay_id
HAVING songplay_id IS NULL OR COUNT(*) > 1;

-- name: songplays__user_in_users
SELECT f.songplay_id, f.user_id FROM songplays AS f
WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.user_id = f.user_id);

-- name: songplays__start_time_in_time
SELECT f.songplay_id, f.start_time FROM songplays AS f
WHERE NOT EXISTS (SELECT 1 FROM "time" AS t WHERE t.start_time = f.start_time);

-- name: songplays__song_in_songs
SELECT f.songplay_id, f.song_id FROM songplays AS f
WHERE f.song_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM songs AS s WHERE s.song_id = f.song_id);

-- name: songplays__artist_in_artists
SELECT f.songplay_id, f.artist_id FROM songplays AS f
WHERE f.artist_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM artists AS a WHERE a.artist_id = f.artist_id);

-- name: songplays__level_domain
SELECT songplay_id, level FROM songplays WHERE level IS NULL OR level NOT IN ('free', 'paid');

-- name: songplays__not_in_future
SELECT songplay_id, start_time FROM songplays WHERE start_time > CAST(%(now)s AS TIMESTAMP);

-- name: songplays__matches_staging
-- Staged plays (NextSong events of logged-in users) with no row in songplays, and plays whose
-- owning object does not carry them.
SELECT e.songplay_id, e.source_key, 'not in songplays' AS problem
FROM (
    SELECT MD5(userid || ':' || CAST(sessionid AS VARCHAR) || ':'
               || CAST(iteminsession AS VARCHAR) || ':' || CAST(ts AS VARCHAR)) AS songplay_id,
           source_key
    FROM staging_events
    WHERE page = 'NextSong' AND userid <> ''
) AS e
WHERE NOT EXISTS (SELECT 1 FROM songplays AS f WHERE f.songplay_id = e.songplay_id)
UNION ALL
SELECT f.songplay_id, f.source_key, 'not carried by its object' AS problem
FROM songplays AS f
WHERE f.source_key IN (SELECT source_key FROM staging_events)
  AND NOT EXISTS (
      SELECT 1 FROM staging_events AS e
      WHERE e.source_key = f.source_key AND e.page = 'NextSong' AND e.userid <> ''
        AND MD5(e.userid || ':' || CAST(e.sessionid AS VARCHAR) || ':'
                || CAST(e.iteminsession AS VARCHAR) || ':' || CAST(e.ts AS VARCHAR))
            = f.songplay_id
  );
