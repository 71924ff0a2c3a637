"""What the lake holds: its objects as listed, and which of them are data.

Object keys are always relative to the lake root (`log_data/2018/11/2018-11-01-events.json`), so
the same lake in a folder or in S3 yields the same keys, manifests and staging rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sparkify_assets.resources.compression import declared_compression

JSONPATHS_FILE = "log_json_path.json"
# The suffixes of data objects: JSON, plain or gzip-compressed (as Kinesis Firehose writes it).
DATA_SUFFIXES = (".json", ".json.gz")


@dataclass(frozen=True)
class LakeObject:
    key: str
    etag: str  # S3's ETag, or size and mtime for a file: changes whenever the content may have
    size: int
    # When the lake last wrote it, epoch seconds (S3's LastModified, a file's mtime): the day an
    # object whose key names no date belongs to (event_days.py). 0 where unknown.
    modified: float = 0.0

    @property
    def compression(self) -> str | None:
        """The compression its name declares ("gzip" for `.json.gz`), None for plain JSON."""
        return declared_compression(self.key)


# Why an object under a data prefix is not data (not_data_reason). A folder marker (a key ending
# in "/", as the S3 console makes) is a folder, not an object: a folder lake cannot hold one, so
# it is never reported, and a lake reports the same in a folder as in S3.
FOLDER_MARKER = "folder marker"
JSONPATHS = "the JSONPaths file"
MARKER = "marker (name starts with _)"
OTHER_SUFFIX = "not named .json or .json.gz"
EMPTY = "empty object"


def not_data_reason(key: str, size: int) -> str | None:
    """Why the object at `key` of `size` bytes is not data, or None when it is: a non-empty
    `.json` or `.json.gz` object other than the JSONPaths file."""
    name = key.rsplit("/", 1)[-1]
    if not name:
        return FOLDER_MARKER
    if name == JSONPATHS_FILE:
        return JSONPATHS
    if not key.endswith(DATA_SUFFIXES):
        return MARKER if name.startswith("_") else OTHER_SUFFIX
    if size == 0:
        return EMPTY
    return None


def is_data_key(key: str, size: int) -> bool:
    """Whether the object at `key` of `size` bytes is raw data (see not_data_reason)."""
    return not_data_reason(key, size) is None


@dataclass(frozen=True)
class NotData:
    """An object listed under a data prefix that is not data, and why (not_data_reason)."""

    key: str
    size: int
    reason: str


def named(not_data: Sequence[NotData], limit: int) -> str:
    """How many objects are not data, the first `limit` of them named with why: for a log line
    or a sensor's skip reason."""
    shown = ", ".join(f"{o.key} [{o.reason}]" for o in not_data[:limit])
    more = f" and {len(not_data) - limit} more" if len(not_data) > limit else ""
    return f"{len(not_data)} object(s) not data: {shown}{more}"


def sorted_out(objects: list[LakeObject]) -> tuple[list[LakeObject], list[NotData]]:
    """`objects` as (the data objects, the others with why): folder markers are neither."""
    data, not_data = [], []
    for obj in objects:
        reason = not_data_reason(obj.key, obj.size)
        if reason is None:
            data.append(obj)
        elif reason != FOLDER_MARKER:
            not_data.append(NotData(obj.key, obj.size, reason))
    return data, not_data


@dataclass(frozen=True)
class ListingPage:
    """One page of a key-ordered listing.

    `objects` are its data objects, `not_data` the others (folder markers aside). `last_key` is
    the last key the page covered, data or not (a folder marker counts): the next page starts
    after it. `more` says whether keys follow.
    """

    objects: list[LakeObject]
    last_key: str
    more: bool
    not_data: list[NotData] = field(default_factory=list)


@dataclass(frozen=True)
class PrefixListing:
    """Everything under a prefix, in key order: the data objects and, with why, the others."""

    objects: list[LakeObject]
    not_data: list[NotData]
