"""Where the raw JSON lives: a local folder, or an S3 bucket/prefix on any S3 endpoint.

Object keys are always relative to the lake root (`log_data/2018/11/2018-11-01-events.json`), so
the same lake in a folder or in S3 yields the same keys, manifests and staging rows.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import boto3
import botocore.config
import botocore.exceptions
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from sparkify_assets.resources.folder_keys import sorted_keys
from sparkify_assets.resources.in_order import in_order
from sparkify_assets.resources.s3_listing import list_prefix

JSONPATHS_FILE = "log_json_path.json"
SAMPLE_LAKE = Path(__file__).resolve().parents[2] / "sample_lake"
PAGE_SIZE = 1000  # S3's largest ListObjectsV2 page
# Requests in flight at once. S3 answers each after tens of milliseconds, nearly all of it waiting:
# 32 at once keep a 30 ms endpoint at about a thousand objects a second, on one core.
DEFAULT_CONCURRENCY = 32
READ_PIECE_BYTES = 1024 * 1024  # an object's body is written to its file a piece at a time
# Attempts at one object whose body broke off mid-transfer (boto3 retries only the request).
BODY_ATTEMPTS = 3
_BODY_ERRORS = (
    botocore.exceptions.ResponseStreamingError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.IncompleteReadError,
)
T = TypeVar("T")


@dataclass(frozen=True)
class LakeObject:
    key: str
    etag: str  # S3's ETag, or size and mtime for a file: changes whenever the content may have
    size: int


@dataclass(frozen=True)
class ListingPage:
    """One page of a key-ordered listing.

    `last_key` is the last key the page covered, data or not (a folder marker counts): the next
    page starts after it. `more` says whether keys follow.
    """

    objects: list[LakeObject]
    last_key: str
    more: bool


@functools.lru_cache(maxsize=8)
def _s3_client(
    endpoint_url: str | None, connections: int, _profile: str | None, _access_key_id: str | None
):
    """One S3 client per endpoint, pool size (and credential source) per process.

    Built as dagster-aws's S3Resource builds it (boto3's standard retries), plus a connection
    pool as large as the GETs the lake keeps in flight, which S3Resource cannot set (boto3's 10
    would open and drop a connection per request beyond it). Building one opens a new boto3
    session and reads its service models (about 0.2 s), and Dagster builds a fresh Lake for
    every run and sensor tick, hence the cache; boto3 clients are thread-safe. Credentials come
    from boto3's usual chain; the cache key only tells a changed profile or key apart and is
    never logged.
    """
    config = botocore.config.Config(
        # Ten attempts with boto3's backoff ride out an S3 endpoint away for a few seconds.
        retries={"max_attempts": 10, "mode": "standard"},
        max_pool_connections=connections,
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


class LakeError(ValueError):
    """The lake cannot be read as configured; the message says what to fix."""


class ObjectReadError(RuntimeError):
    """One lake object could not be read (after boto3's retries); the message names it."""


def is_data_key(key: str, size: int) -> bool:
    """Raw data is a non-empty `.json` object; folder markers and the JSONPaths file are not."""
    return size > 0 and key.endswith(".json") and key.rsplit("/", 1)[-1] != JSONPATHS_FILE


class Lake(ConfigurableResource):
    """The raw-data lake: `url` is a folder path or `s3://bucket/prefix`."""

    url: str = str(SAMPLE_LAKE)
    s3_endpoint_url: str | None = None
    concurrency: int = Field(
        default=DEFAULT_CONCURRENCY,
        ge=1,
        description="S3 requests in flight at once (GETs, and listings folder by folder)",
    )

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
            self._client = _s3_client(
                self.s3_endpoint_url or None,
                self.concurrency,
                os.environ.get("AWS_PROFILE"),
                os.environ.get("AWS_ACCESS_KEY_ID"),
            )
        return self._client

    def check(self, prefix: str = "") -> None:
        """Fail with one clear message, naming what to fix, when the lake cannot be read or holds
        nothing under `prefix` (a lake root set one level too high or too low, say)."""
        if self.is_s3:
            if not self.bucket:
                raise LakeError(f"SPARKIFY_LAKE={self.url!r} names no bucket (s3://bucket/prefix)")
            try:
                listing = self.s3_client().list_objects_v2(
                    Bucket=self.bucket, Prefix=self.prefix + prefix, MaxKeys=1
                )
            except botocore.exceptions.NoCredentialsError:
                raise LakeError(
                    f"SPARKIFY_LAKE={self.url!r}: no AWS credentials found (boto3 looks in "
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws, instance roles)"
                ) from None
            except botocore.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "error")
                raise LakeError(
                    f"SPARKIFY_LAKE={self.url!r}: bucket {self.bucket!r} cannot be listed "
                    f"({code}); check the bucket name, SPARKIFY_S3_ENDPOINT_URL and what the "
                    "credentials may read"
                ) from None
            empty = listing.get("KeyCount", 0) == 0
        elif not self.root.is_dir():
            raise LakeError(f"SPARKIFY_LAKE={self.url!r} is not a folder")
        else:
            empty = not (self.root / prefix).is_dir()
        if prefix and empty:
            raise LakeError(
                f"SPARKIFY_LAKE={self.url!r} has nothing under {prefix!r}: the lake root should "
                "hold song_data/ and log_data/"
            )

    def list_objects(self, prefix: str, start_after: str | None = None) -> Iterator[LakeObject]:
        """Data objects under `prefix` (relative to the lake root), in key order, lazily.

        The whole of an S3 prefix is listed folder by folder, `concurrency` requests at once
        (s3_listing.py); a listing that starts after a key goes page after page."""
        if self.is_s3 and start_after is None:
            root = self.prefix + prefix
            items = list_prefix(self.s3_client(), self.bucket, root, self.concurrency)
            objects = (self._s3_object(item) for item in items)
            yield from (o for o in objects if is_data_key(o.key, o.size))
            return
        for page in self.list_pages(prefix, start_after):
            yield from page.objects

    def list_pages(
        self, prefix: str, start_after: str | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[ListingPage]:
        """The keys under `prefix` after `start_after`, in key order, a page at a time.

        On S3 a page is one ListObjectsV2 request, so a caller that stops early pays only for
        the pages it took. Pages hold data objects only; `last_key` still advances past folder
        markers, empty objects and other keys that are not data.
        """
        listing = self._s3_pages if self.is_s3 else self._folder_pages
        for page, last_key, more in listing(prefix, start_after, page_size):
            objects = [o for o in page if is_data_key(o.key, o.size)]
            yield ListingPage(objects, last_key, more)

    def _s3_pages(self, prefix: str, start_after: str | None, page_size: int):
        # dagster-aws's get_objects/get_s3_keys read the whole prefix into a list and sort it by
        # LastModified, so they can neither start after a key nor stop after a page: the
        # paginator is used directly.
        kwargs = {
            "Bucket": self.bucket,
            "Prefix": self.prefix + prefix,
            "PaginationConfig": {"PageSize": page_size},
        }
        if start_after:
            kwargs["StartAfter"] = self.prefix + start_after
        for page in self.s3_client().get_paginator("list_objects_v2").paginate(**kwargs):
            items = page.get("Contents", [])
            if items:
                objects = [self._s3_object(item) for item in items]
                yield objects, objects[-1].key, bool(page.get("IsTruncated"))

    def _s3_object(self, item: dict) -> LakeObject:
        """A ListObjectsV2 item as a lake object: its key relative to the lake root."""
        return LakeObject(item["Key"][len(self.prefix) :], item["ETag"].strip('"'), item["Size"])

    def _folder_pages(self, prefix: str, start_after: str | None, page_size: int):
        root = self.root  # resolved once: per key it was a tenth of a listing's time
        base = root / prefix
        if not base.is_dir():
            return
        rel = base.relative_to(root).as_posix()
        keys = sorted_keys(base, "" if rel == "." else f"{rel}/", start_after)
        page: list[LakeObject] = []
        for key in keys:
            if len(page) == page_size:
                yield page, page[-1].key, True
                page = []
            stat = (root / key).stat()
            page.append(LakeObject(key, f"{stat.st_size}-{stat.st_mtime_ns}", stat.st_size))
        if page:
            yield page, page[-1].key, False

    def region(self) -> str:
        """The S3 bucket's region (S3 answers no location for us-east-1)."""
        answer = self.s3_client().get_bucket_location(Bucket=self.bucket)
        return answer.get("LocationConstraint") or "us-east-1"

    def s3_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def read_bytes(self, key: str) -> bytes:
        if self.is_s3:
            return self._get(key, lambda body: body.read())
        return (self.root / key).read_bytes()

    def read_objects(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """(key, body) of each of `keys`, in their order, for objects small enough to hold.

        On S3, one GET per object and up to `concurrency` of them in flight; a folder is read
        in the caller's thread (threads only add contention to reads of local files).
        """
        if not self.is_s3:
            root = self.root
            yield from ((key, (root / key).read_bytes()) for key in keys)
            return
        yield from in_order(lambda key: (key, self.read_bytes(key)), keys, self.concurrency)

    @contextlib.contextmanager
    def local_files(self, keys: Iterable[str]) -> Iterator[dict[str, Path]]:
        """Local paths for `keys`: the files themselves, or streamed copies of S3 objects.

        S3 objects are fetched with one GET each, `concurrency` at a time, into a temporary
        folder that is removed on exit; a body goes to disk a piece at a time. A caller holds at
        most one chunk of the lake on disk, never the whole bucket.
        """
        if not self.is_s3:
            root = self.root
            yield {key: root / key for key in keys}
            return
        spool = Path(tempfile.mkdtemp(prefix="sparkify-lake-"))
        try:
            numbered = {key: spool / f"{n}.json" for n, key in enumerate(keys)}
            for _done in in_order(self._download, numbered.items(), self.concurrency):
                pass
            yield numbered
        finally:
            shutil.rmtree(spool, ignore_errors=True)

    def _download(self, item: tuple[str, Path]) -> None:
        key, path = item

        def write(body) -> None:
            with open(path, "wb") as out:
                for piece in body.iter_chunks(READ_PIECE_BYTES):
                    out.write(piece)

        self._get(key, write)

    def _get(self, key: str, take: Callable[..., T]) -> T:
        """`take` the body of one GET of `key`; again from the start when the body breaks off."""
        attempt = 1
        while True:
            try:
                answer = self.s3_client().get_object(Bucket=self.bucket, Key=self.prefix + key)
                return take(answer["Body"])
            except _BODY_ERRORS as exc:
                if attempt == BODY_ATTEMPTS:
                    raise ObjectReadError(f"{self.s3_uri(key)}: {exc}") from exc
                attempt += 1
            except botocore.exceptions.ClientError as exc:
                raise ObjectReadError(f"{self.s3_uri(key)}: {exc}") from exc
