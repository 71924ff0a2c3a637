"""What the lake holds: its objects as listed, and which of them are data.

Object keys are always relative to the lake root (`log_data/2018/11/2018-11-01-events.json`), so
the same lake in a folder or in S3 yields the same keys, manifests and staging rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkify_assets.resources.compression import declared_compression

JSONPATHS_FILE = "log_json_path.json"
# The suffixes of data objects: JSON, plain or gzip-compressed (as Kinesis Firehose writes it).
DATA_SUFFIXES = (".json", ".json.gz")


@dataclass(frozen=True)
class LakeObject:
    key: str
    etag: str  # S3's ETag, or size and mtime for a file: changes whenever the content may have
    size: int

    @property
    def compression(self) -> str | None:
        """The compression its name declares ("gzip" for `.json.gz`), None for plain JSON."""
        return declared_compression(self.key)


@dataclass(frozen=True)
class ListingPage:
    """One page of a key-ordered listing.

    `last_key` is the last key the page covered, data or not (a folder marker counts): the next
    page starts after it. `more` says whether keys follow.
    """

    objects: list[LakeObject]
    last_key: str
    more: bool


def is_data_key(key: str, size: int) -> bool:
    """Raw data is a non-empty `.json` or `.json.gz` object; folder markers and the JSONPaths
    file are not."""
    return size > 0 and key.endswith(DATA_SUFFIXES) and key.rsplit("/", 1)[-1] != JSONPATHS_FILE
