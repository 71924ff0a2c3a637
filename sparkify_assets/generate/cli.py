"""`python -m sparkify_assets.generate`: the command line of `generate_lake`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from sparkify_assets.generate.writer import generate_lake


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sparkify_assets.generate",
        description="Write a deterministic Sparkify lake (song_data/, log_data/ and "
        "log_json_path.json) to a folder or s3://bucket/prefix. Same arguments, same bytes; a "
        "day's events do not depend on --start or --days, so a lake can be extended day by day.",
    )
    parser.add_argument("--out", required=True, help="folder or s3://bucket/prefix")
    parser.add_argument("--songs", type=int, default=300, help="song files (default 300)")
    parser.add_argument("--users", type=int, default=60, help="user population (default 60)")
    parser.add_argument("--days", type=int, default=7, help="days of events (default 7)")
    parser.add_argument(
        "--events-per-day", type=int, default=300, help="events in each day (default 300)"
    )
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2018, 11, 1),
        help="first day, YYYY-MM-DD (default 2018-11-01)",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--only",
        choices=("songs", "events"),
        help="write only the songs or only the events (events still need --songs: they name "
        "catalogue songs)",
    )
    parser.add_argument(
        "--endpoint-url",
        help="S3 endpoint (default: $SPARKIFY_S3_ENDPOINT_URL, else AWS); credentials come "
        "from boto3's usual chain",
    )
    args = parser.parse_args(argv)
    summary = generate_lake(
        args.out,
        songs=args.songs,
        users=args.users,
        days=args.days,
        events_per_day=args.events_per_day,
        start=args.start,
        seed=args.seed,
        what=(args.only,) if args.only else ("songs", "events"),
        endpoint_url=args.endpoint_url,
    )
    json.dump(summary, sys.stdout)
    print()
    return 0
