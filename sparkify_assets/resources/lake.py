"""Where the raw JSON lives: a local folder, or an S3 bucket/prefix on any S3 endpoint.

Object keys are always relative to the lake root (`log_data/2018/11/2018-11-01-events.json`), so
the same lake in a folder or in S3 yields the same keys, manifests and staging rows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3
from dagster import ConfigurableResource
from pydantic import PrivateAttr

JSONPATHS_FILE = "log_json_path.json"
SAMPLE_LAKE = Path(__file__).resolve().parents[2] / "sample_lake"


@dataclass(frozen=True)
class LakeObject:
    key: str
    etag: str  # S3's ETag, or size and mtime for a file: changes whenever the content may have
    size: int


def is_data_key(key: str, size: int) -> bool:
    """Raw data is a non-empty `.json` object; folder markers and the JSONPaths file are not."""
    return size > 0 and key.endswith(".json") and key.rsplit("/", 1)[-1] != JSONPATHS_FILE


class Lake(ConfigurableResource):
    """The raw-data lake: `url` is a folder path or `s3://bucket/prefix`."""

    url: str = str(SAMPLE_LAKE)
    s3_endpoint_url: str | None = None

    _client = PrivateAttr(default=None)

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    @property
    def bucket(self) -> str:
        return urlparse(self.url).netloc

    @property
    def prefix(self) -> str:
        """The S3 key prefix of the lake root, '' or ending in '/'."""
        path = urlparse(self.url).path.strip("/")
        return f"{path}/" if path else ""

    @property
    def root(self) -> Path:
        return Path(self.url).expanduser().resolve()

    def s3_client(self):
        if self._client is None:
            # Credentials come from boto3's usual chain; nothing secret is held here.
            self._client = boto3.client("s3", endpoint_url=self.s3_endpoint_url or None)
        return self._client

    def check(self) -> None:
        """Fail with one clear message when the lake cannot be read at all."""
        if self.is_s3:
            if not self.bucket:
                raise ValueError(f"SPARKIFY_LAKE={self.url!r} names no bucket (s3://bucket/prefix)")
            self.s3_client().list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        elif not self.root.is_dir():
            raise ValueError(f"SPARKIFY_LAKE={self.url!r} is not a folder")

    def list_objects(self, prefix: str, start_after: str | None = None) -> Iterator[LakeObject]:
        """Data objects under `prefix` (relative to the lake root), in key order, lazily."""
        listing = self._list_s3 if self.is_s3 else self._list_folder
        for obj in listing(prefix, start_after):
            if is_data_key(obj.key, obj.size):
                yield obj

    def _list_s3(self, prefix: str, start_after: str | None) -> Iterator[LakeObject]:
        kwargs = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        if start_after:
            kwargs["StartAfter"] = self.prefix + start_after
        for page in self.s3_client().get_paginator("list_objects_v2").paginate(**kwargs):
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                yield LakeObject(key, item["ETag"].strip('"'), item["Size"])

    def _list_folder(self, prefix: str, start_after: str | None) -> Iterator[LakeObject]:
        base = self.root / prefix
        if not base.is_dir():
            return
        keys = []
        for dirpath, _dirs, files in os.walk(base):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            keys.extend(f"{rel}/{name}" for name in files)
        for key in sorted(keys):
            if start_after is not None and key <= start_after:
                continue
            stat = (self.root / key).stat()
            yield LakeObject(key, f"{stat.st_size}-{stat.st_mtime_ns}", stat.st_size)

    def s3_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def read_bytes(self, key: str) -> bytes:
        if self.is_s3:
            return (
                self.s3_client()
                .get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
                .read()
            )
        return (self.root / key).read_bytes()

    @contextlib.contextmanager
    def local_files(self, keys: Iterable[str]) -> Iterator[dict[str, Path]]:
        """Local paths for `keys`: the files themselves, or streamed copies of S3 objects.

        S3 objects are downloaded one by one into a temporary folder that is removed on exit, so
        a caller holds at most one chunk of the lake on disk, never the whole bucket.
        """
        if not self.is_s3:
            yield {key: self.root / key for key in keys}
            return
        spool = Path(tempfile.mkdtemp(prefix="sparkify-lake-"))
        try:
            paths = {}
            for n, key in enumerate(keys):
                path = spool / f"{n}.json"
                self.s3_client().download_file(self.bucket, self.prefix + key, str(path))
                paths[key] = path
            yield paths
        finally:
            shutil.rmtree(spool, ignore_errors=True)
