"""The warehouse engines: `base.py` is what every engine provides (a session, a resource), and
`duckdb.py`, `postgres.py` and `redshift.py` are one engine each, none importing another.
`settings.py` picks one by SPARKIFY_WAREHOUSE."""
