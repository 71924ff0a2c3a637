-- users: one row per non-empty userId seen in any event. Name, gender and level are those of the
-- user's latest event (largest ts, then paid over free, then sessionId, then itemInSession, then
-- the smallest object key, then the smallest names): users move between free and paid, and the
-- dimension says where they are now. Never the line: Redshift's COPY cannot say it.

-- name: create
CREATE TABLE IF NOT EXISTS users (
    user_id      INTEGER NOT NULL,  -- the app's user id
    first_name   VARCHAR(256),      -- as of the user's latest event
    last_name    VARCHAR(256),      -- as of the user's latest event
    gender       VARCHAR(16),       -- M or F, as of the user's latest event
    level        VARCHAR(16),       -- free or paid: the level of the user's latest event
    last_seen_at TIMESTAMP,         -- when the user's latest event happened (UTC)
    PRIMARY KEY (user_id)
)
-- Small: a copy on every node.
DISTSTYLE ALL
SORTKEY (user_id);

-- name: merge
-- Users with events in the new batch are rebuilt from all their events, not just the batch's:
-- a day that arrives late must not win, and a changed object may have taken an event away.
-- First each such user's latest ts (an aggregate), then the event(s) at that ts.
CREATE TEMP TABLE users_latest_ts AS
SELECT e.userid, MAX(e.ts) AS ts
FROM staging_events AS e
WHERE e.userid IN (SELECT userid FROM new_staging_events WHERE userid <> '')
GROUP BY e.userid;

ANALYZE users_latest_ts;

CREATE TEMP TABLE users_latest AS
SELECT user_id, first_name, last_name, gender, level, last_seen_at
FROM (
    SELECT CAST(e.userid AS INTEGER) AS user_id,
           e.firstname AS first_name,
           e.lastname AS last_name,
           e.gender,
           e.level,
           TIMESTAMP 'epoch' + e.ts / 1000.0 * INTERVAL '1 second' AS last_seen_at,
           ROW_NUMBER() OVER (
               PARTITION BY e.userid
               ORDER BY e.level DESC, e.sessionid DESC, e.iteminsession DESC,
                        e.source_key, e.firstname, e.lastname, e.gender
           ) AS recency
    FROM staging_events AS e
    JOIN users_latest_ts AS l ON l.userid = e.userid AND l.ts = e.ts
) AS ranked
WHERE recency = 1;

DELETE FROM users WHERE user_id IN (SELECT user_id FROM users_latest);

INSERT INTO users (user_id, first_name, last_name, gender, level, last_seen_at)
SELECT user_id, first_name, last_name, gender, level, last_seen_at
FROM users_latest;

-- name: prune
-- After a changed event object replaced its rows: users with no event any more.
DELETE FROM users
WHERE CAST(user_id AS VARCHAR) NOT IN (
    SELECT userid FROM staging_events WHERE userid <> ''
);
