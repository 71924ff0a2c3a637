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
-- Plays are counted per song id first, a narrow key, and joined with the catalogue after: the
-- join then reads one row per song played, not one per play.
SELECT s.title, a.name AS artist_name, CAST(SUM(per_song.plays) AS BIGINT) AS plays
FROM (
    SELECT song_id, artist_id, COUNT(*) AS plays
    FROM songplays
    WHERE song_id IS NOT NULL
    GROUP BY song_id, artist_id
) AS per_song
JOIN songs AS s ON per_song.song_id = s.song_id
LEFT JOIN artists AS a ON per_song.artist_id = a.artist_id
GROUP BY s.title, a.name
ORDER BY plays DESC, s.title, a.name
LIMIT 10;

-- name: most_played_artists
SELECT a.name AS artist_name, CAST(SUM(per_artist.plays) AS BIGINT) AS plays
FROM (
    SELECT artist_id, COUNT(*) AS plays
    FROM songplays
    WHERE artist_id IS NOT NULL
    GROUP BY artist_id
) AS per_artist
JOIN artists AS a ON per_artist.artist_id = a.artist_id
GROUP BY a.name
ORDER BY plays DESC, a.name
LIMIT 10;

-- name: plays_by_hour
-- This and the next read the hour and day of a play from its own start_time, as the time
-- dimension has them: joining songplays with "time", both a row per play, would cost more than
-- the rest of the report together on a year of plays.
SELECT CAST(EXTRACT(HOUR FROM f.start_time) AS INTEGER) AS "hour", COUNT(*) AS plays
FROM songplays AS f
GROUP BY 1
ORDER BY 1;

-- name: plays_by_day_and_level
-- Plays per calendar day (UTC), split by the level the user had at the play: free or paid.
SELECT CAST(f.start_time AS DATE) AS play_day, f.level, COUNT(*) AS plays
FROM songplays AS f
GROUP BY 1, 2
ORDER BY 1, 2;
