-- The analytics team's questions, asked of the star schema. Each section is one report.

-- name: paid_user_plays
-- The seed's query: plays by paid users, with who played what, on which device.
SELECT u.first_name, u.last_name, u.gender, f.level, a.name AS artist_name, f.user_agent
FROM songplays AS f
JOIN users AS u ON f.user_id = u.user_id
JOIN artists AS a ON f.artist_id = a.artist_id
WHERE f.level <> 'free'
ORDER BY f.start_time, f.songplay_id
LIMIT 10;

-- name: most_played_songs
SELECT s.title, a.name AS artist_name, COUNT(*) AS plays
FROM songplays AS f
JOIN songs AS s ON f.song_id = s.song_id
LEFT JOIN artists AS a ON f.artist_id = a.artist_id
GROUP BY s.title, a.name
ORDER BY plays DESC, s.title, a.name
LIMIT 10;

-- name: most_played_artists
SELECT a.name AS artist_name, COUNT(*) AS plays
FROM songplays AS f
JOIN artists AS a ON f.artist_id = a.artist_id
GROUP BY a.name
ORDER BY plays DESC, a.name
LIMIT 10;

-- name: plays_by_hour
SELECT t."hour", COUNT(*) AS plays
FROM songplays AS f
JOIN "time" AS t ON f.start_time = t.start_time
GROUP BY t."hour"
ORDER BY t."hour";

-- name: plays_by_day_and_level
-- Plays per calendar day (UTC), split by the level the user had at the play: free or paid.
SELECT t."year", t."month", t."day", f.level, COUNT(*) AS plays
FROM songplays AS f
JOIN "time" AS t ON f.start_time = t.start_time
GROUP BY t."year", t."month", t."day", f.level
ORDER BY t."year", t."month", t."day", f.level;
