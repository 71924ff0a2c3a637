-- time: one row per distinct songplays.start_time, broken into calendar parts. week is the ISO
-- week; weekday is 0 = Sunday ... 6 = Saturday, as Redshift's EXTRACT(dow ...).

-- name: create
CREATE TABLE IF NOT EXISTS "time" (
    start_time TIMESTAMP NOT NULL,  -- a play's start (UTC, with milliseconds)
    "hour"     SMALLINT,            -- hour of day, 0-23
    "day"      SMALLINT,            -- day of month, 1-31
    week       SMALLINT,            -- ISO week of the year, 1-53
    "month"    SMALLINT,            -- month, 1-12
    "year"     SMALLINT,            -- year
    weekday    SMALLINT,            -- 0 = Sunday ... 6 = Saturday, as Redshift's EXTRACT(dow ...)
    PRIMARY KEY (start_time)
)
-- About as many rows as songplays: distributed on start_time like songplays, so their join is
-- node-local, and sorted on it for time-range queries.
DISTKEY (start_time)
SORTKEY (start_time);

-- name: merge
-- The play times of the new batch that the table does not hold yet. ts is epoch milliseconds:
-- dividing by 1000.0 (not 1000) keeps the milliseconds on every engine.
INSERT INTO "time" (start_time, "hour", "day", week, "month", "year", weekday)
SELECT start_time,
       EXTRACT(hour FROM start_time),
       EXTRACT(day FROM start_time),
       EXTRACT(week FROM start_time),
       EXTRACT(month FROM start_time),
       EXTRACT(year FROM start_time),
       EXTRACT(dow FROM start_time)
FROM (
    SELECT DISTINCT TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' AS start_time
    FROM new_staging_events AS e
    WHERE e.page = 'NextSong' AND e.userid <> ''
) AS plays
WHERE NOT EXISTS (SELECT 1 FROM "time" AS t WHERE t.start_time = plays.start_time);

-- name: prune
-- After a changed event object replaced its rows: times no play has any more.
DELETE FROM "time"
WHERE NOT EXISTS (
    SELECT 1 FROM staging_events AS e
    WHERE e.page = 'NextSong' AND e.userid <> ''
      AND TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' = "time".start_time
);
