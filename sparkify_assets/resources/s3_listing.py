"""A whole S3 prefix listed with its folders side by side, in key order.

One ListObjectsV2 request returns at most 1,000 keys and the next needs the previous one's
token, so a prefix of 300,000 song objects is 300 requests one after another: at S3's tens of
milliseconds each, many seconds of waiting. S3 lists the folders of a prefix in one request
(`Delimiter='/'`), and the folders are disjoint ranges of keys: listed each on its own, many at
once, then joined in order, they give exactly the one long listing. Folders are split down a
few levels (`song_data/A/B/`) until there are several, each then listed page after page beside
the others.
"""

from __future__ import annotations

from collections.abc import Iterator

from sparkify_assets.resources.in_order import in_order

# Levels of folders below the prefix that are split out at most: the Million Song layout has
# three (song_data/A/B/C/), a day of events sits three deep (log_data/2018/11/).
FOLDER_LEVELS = 3
# Folders at which splitting stops. Not more: a request costs the same for 10 keys as for 1,000,
# so splitting 20,000 song keys into 676 folders of 30 took 704 requests where 28 do (on moto
# with 30 ms a request: 21 s against 5.7 s; one page after another, 20 requests, 9.1 s).
ENOUGH_FOLDERS = 8

# An entry of a listing: an object (its ListObjectsV2 item) or a folder still to list (its prefix).
Entry = tuple[str, str | dict]


def list_prefix(client, bucket: str, prefix: str, workers: int) -> Iterator[dict]:
    """The ListObjectsV2 items (`Key`, `ETag`, `Size`, ...) of every key under `prefix`, in
    S3's key order, with up to `workers` requests in flight."""
    entries: list[Entry] = [("folder", prefix)]
    for _level in range(FOLDER_LEVELS):
        folders = [value for kind, value in entries if kind == "folder"]
        if not folders or len(folders) >= ENOUGH_FOLDERS:
            break
        split = in_order(lambda folder: _one_level(client, bucket, folder), folders, workers)
        by_folder = dict(zip(folders, split, strict=True))
        entries = [
            inner
            for kind, value in entries
            for inner in (by_folder[value] if kind == "folder" else [(kind, value)])
        ]
    for items in in_order(lambda entry: _items(client, bucket, entry), entries, workers):
        yield from items


def _one_level(client, bucket: str, folder: str) -> list[Entry]:
    """The objects directly in `folder` and its sub-folders, in key order: a key sorts among the
    folders by its name (`a.json` before `a/`, `a/` before `a0.json`), as S3 orders them."""
    entries: list[tuple[str, Entry]] = []
    for page in _pages(client, Bucket=bucket, Prefix=folder, Delimiter="/"):
        entries += [(item["Key"], ("object", item)) for item in page.get("Contents", [])]
        entries += [(p["Prefix"], ("folder", p["Prefix"])) for p in page.get("CommonPrefixes", [])]
    return [entry for _key, entry in sorted(entries, key=lambda pair: pair[0].encode())]


def _items(client, bucket: str, entry: Entry) -> list[dict]:
    kind, value = entry
    if kind == "object":
        return [value]
    return [
        item
        for page in _pages(client, Bucket=bucket, Prefix=value)
        for item in page.get("Contents", [])
    ]


def _pages(client, **request) -> Iterator[dict]:
    yield from client.get_paginator("list_objects_v2").paginate(**request)
