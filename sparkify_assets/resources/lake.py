"""Where the raw JSON lives: a local folder, or an S3 bucket/prefix on any S3 endpoint.

The resource lists and reads; what an object is and whether it is data is in lake_objects.py,
S3's client and GETs in s3_reads.py, the listing of a folder in S3's key order in folder_keys.py,
of a whole S3 prefix in s3_listing.py, and the bounded pool of requests in in_order.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import botocore.exceptions
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from sparkify_assets.resources.compression import content, content_file
from sparkify_assets.resources.folder_keys import sorted_keys
from sparkify_assets.resources.in_order import in_order
from sparkify_assets.resources.lake_objects import (
    JSONPATHS_FILE,
    LakeObject,
    ListingPage,
    NotData,
    PrefixListing,
    is_data_key,
    sorted_out,
)
from sparkify_assets.resources.s3_listing import list_prefix
from sparkify_assets.resources.s3_reads import ObjectReadError, get_body, s3_client

# Names other modules import from here.
__all__ = [
    "DEFAULT_CONCURRENCY",
    "JSONPATHS_FILE",
    "PAGE_SIZE",
    "SAMPLE_LAKE",
    "Lake",
    "LakeError",
    "LakeObject",
    "ListingPage",
    "NotData",
    "PrefixListing",
    "ObjectReadError",
    "is_data_key",
]

SAMPLE_LAKE = Path(__file__).resolve().parents[2] / "sample_lake"
PAGE_SIZE = 1000  # S3's largest ListObjectsV2 page
# Requests in flight at once. S3 answers each after tens of milliseconds, nearly all of it waiting:
# 32 at once keep a 30 ms endpoint at about a thousand objects a second, on one core.
DEFAULT_CONCURRENCY = 32
READ_PIECE_BYTES = 1024 * 1024  # an object's body is written to its file a piece at a time
T = TypeVar("T")


class LakeError(ValueError):
    """The lake cannot be read as configured; the message says what to fix."""


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
            self._client = s3_client(
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
        """Data objects under `prefix` (relative to the lake root), in key order, lazily."""
        for obj in self._listed(prefix, start_after):
            if is_data_key(obj.key, obj.size):
                yield obj

    def listing(self, prefix: str) -> PrefixListing:
        """Everything under `prefix`: its data objects, and the objects that are not data with
        why (lake_objects.not_data_reason), for a load to report rather than skip in silence."""
        return PrefixListing(*sorted_out(list(self._listed(prefix))))

    def _listed(self, prefix: str, start_after: str | None = None) -> Iterator[LakeObject]:
        """Every object under `prefix`, data or not, in key order, lazily.

        The whole of an S3 prefix is listed folder by folder, `concurrency` requests at once
        (s3_listing.py); a listing that starts after a key goes page after page."""
        if self.is_s3 and start_after is None:
            root = self.prefix + prefix
            items = list_prefix(self.s3_client(), self.bucket, root, self.concurrency)
            yield from (self._s3_object(item) for item in items)
            return
        listing = self._s3_pages if self.is_s3 else self._folder_pages
        for page, _last_key, _more in listing(prefix, start_after, PAGE_SIZE):
            yield from page

    def list_pages(
        self, prefix: str, start_after: str | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[ListingPage]:
        """The keys under `prefix` after `start_after`, in key order, a page at a time.

        On S3 a page is one ListObjectsV2 request, so a caller that stops early pays only for
        the pages it took. A page's `objects` are its data objects, its `not_data` the others
        (empty objects, markers, other suffixes); `last_key` advances past both, and past folder
        markers.
        """
        listing = self._s3_pages if self.is_s3 else self._folder_pages
        for page, last_key, more in listing(prefix, start_after, page_size):
            objects, not_data = sorted_out(page)
            yield ListingPage(objects, last_key, more, not_data)

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
        key, modified = item["Key"][len(self.prefix) :], item["LastModified"].timestamp()
        return LakeObject(key, item["ETag"].strip('"'), item["Size"], modified)

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
            version = f"{stat.st_size}-{stat.st_mtime_ns}"
            page.append(LakeObject(key, version, stat.st_size, stat.st_mtime))
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

    def read_contents(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """(key, content) of each of `keys`, in their order, for objects small enough to hold:
        the JSON each holds, decompressed when it is compressed (compression.py).

        On S3, one GET per object and up to `concurrency` of them in flight; a folder is read
        in the caller's thread (threads only add contention to reads of local files).
        """
        if not self.is_s3:
            root = self.root
            yield from ((key, content((root / key).read_bytes())) for key in keys)
            return
        yield from in_order(
            lambda key: (key, content(self.read_bytes(key))), keys, self.concurrency
        )

    @contextlib.contextmanager
    def content_files(self, keys: Iterable[str]) -> Iterator[dict[str, Path]]:
        """Local files holding the JSON of `keys`: the files themselves, or streamed copies of
        S3 objects; a compressed object's decompressed copy instead (compression.py).

        S3 objects are fetched with one GET each, `concurrency` at a time, into a temporary
        folder that is removed on exit; a body goes to disk a piece at a time. A caller holds at
        most one chunk of the lake on disk, never the whole bucket.
        """
        spool = Path(tempfile.mkdtemp(prefix="sparkify-lake-"))
        try:
            if self.is_s3:
                numbered = [(key, spool / f"{n}.object") for n, key in enumerate(keys)]
                paths = in_order(self._download, numbered, self.concurrency)
            else:
                root = self.root
                paths = ((key, content_file(root / key, spool)) for key in keys)
            yield dict(paths)
        finally:
            shutil.rmtree(spool, ignore_errors=True)

    def _download(self, item: tuple[str, Path]) -> tuple[str, Path]:
        key, path = item

        def write(body) -> None:
            with open(path, "wb") as out:
                for piece in body.iter_chunks(READ_PIECE_BYTES):
                    out.write(piece)

        self._get(key, write)
        return key, content_file(path, path.parent)

    def _get(self, key: str, take: Callable[..., T]) -> T:
        return get_body(self.s3_client(), self.bucket, self.prefix + key, self.s3_uri(key), take)
