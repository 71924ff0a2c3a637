"""A lake folder's files as S3 keys, in the order S3 lists a bucket, from any key on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def sorted_keys(folder: Path, rel: str, start_after: str | None) -> Iterator[str]:
    """Keys of the files under `folder` (`rel` is its key prefix) after `start_after`, in S3's
    key order, walking only the folders that can hold such keys.

    A folder `a` is sorted as `a/`: every key inside it starts with that, so a depth-first walk
    in this order yields keys in plain string order (as S3 lists them), and a folder whose keys
    all sort before `start_after` is skipped without being read.
    """
    entries = []
    with os.scandir(folder) as scan:
        for entry in scan:
            is_dir = entry.is_dir()
            # Like os.walk: symlinked folders are not followed.
            if is_dir and entry.is_symlink():
                continue
            entries.append((f"{rel}{entry.name}/" if is_dir else f"{rel}{entry.name}", entry))
    for key, entry in sorted(entries, key=lambda e: e[0]):
        if not key.endswith("/"):
            if start_after is None or key > start_after:
                yield key
        elif start_after is None or start_after < key or start_after.startswith(key):
            yield from sorted_keys(Path(entry.path), key, start_after)
