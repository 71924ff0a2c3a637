-- users: one row per non-empty userId seen in any event. Name, gender and level are those of the
-- user's latest event (largest ts, then paid over free, then sessionId, then itemInSession):
-- users move between free and paid, and the dimension says where they are now.

-- name: create
CREATE TABLE IF NOT EXISTS users (
    user_id      INTEGER NOT NULL,
    first_name   VARCHAR(256),
    last_name    VARCHAR(256),
    gender       VARCHAR(16),
    level        VARCHAR(16),
    -- When the user's latest event happened: lets a late-arriving older day leave level alone.
    last_seen_at TIMESTAMP,
    PRIMARY KEY (user_id)
)
-- Small: a copy on every node.
DISTSTYLE ALL
SORTKEY (user_id);

-- name: merge
-- Each user's latest event within the new batch.
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
               PARTITION BY CAST(e.userid AS INTEGER)
               ORDER BY e.ts DESC, e.level DESC, e.sessionid DESC, e.iteminsession DESC
           ) AS recency
    FROM new_staging_events AS e
    WHERE e.userid <> ''
) AS ranked
WHERE recency = 1;

-- A user's row changes only when the batch holds a later event (a late, older day must not win).
DELETE FROM users
USING users_latest AS b
WHERE users.user_id = b.user_id
  AND (b.last_seen_at > users.last_seen_at
       OR (b.last_seen_at = users.last_seen_at AND b.level >= users.level));

INSERT INTO users (user_id, first_name, last_name, gender, level, last_seen_at)
SELECT b.user_id, b.first_name, b.last_name, b.gender, b.level, b.last_seen_at
FROM users_latest AS b
WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.user_id = b.user_id);
