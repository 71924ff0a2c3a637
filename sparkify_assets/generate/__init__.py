"""Deterministic generator of Sparkify raw data (the lake the warehouse loads).

`generate_lake` writes a lake in the real dataset's layout to a folder or s3://bucket/prefix;
`python -m sparkify_assets.generate` is its command line. The real data's quirks are reproduced
(docs/tables.md has the rules they exercise); the module that makes each one describes it:

- names.py: name pools, and unicode as the song files and the log spell it
- catalogue.py: the song catalogue (song_data/)
- users.py: the user population and its levels, day by day
- plays.py: the songs NextSong events name, ~15% of them catalogue songs
- events.py: a day's sessions, rendered as event lines (log_data/)
- writer.py: the layout, and `generate_lake` writing it to a folder or S3
- cli.py: the command line (__main__.py runs it)

Everything is a function of the arguments: a day's events depend only on the seed, the date, the
song catalogue and the users, so a lake can be extended day by day with identical results.
"""

from sparkify_assets.generate.catalogue import Catalogue, ascii_only, build_catalogue
from sparkify_assets.generate.cli import main
from sparkify_assets.generate.events import DAY_MS, EVENT_KEYS
from sparkify_assets.generate.names import double_encode
from sparkify_assets.generate.plays import CATALOGUE_SHARE
from sparkify_assets.generate.users import User, build_users
from sparkify_assets.generate.writer import (
    JSONPATHS_FILE,
    events_key,
    generate_lake,
    jsonpaths,
    song_key,
)

__all__ = [
    "CATALOGUE_SHARE",
    "DAY_MS",
    "EVENT_KEYS",
    "JSONPATHS_FILE",
    "Catalogue",
    "User",
    "ascii_only",
    "build_catalogue",
    "build_users",
    "double_encode",
    "events_key",
    "generate_lake",
    "jsonpaths",
    "main",
    "song_key",
]
