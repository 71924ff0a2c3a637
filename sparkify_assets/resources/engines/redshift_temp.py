"""The files Redshift's COPY reads that this process writes: manifests, the JSONPaths, parsed rows.

They go to their own S3 location (SPARKIFY_REDSHIFT_TEMP_URI), never into the lake: a loader
may only read most lakes. Each load writes under a folder of its own and deletes what it wrote
when it ends, failed or not; what a crashed process leaves, the location's lifecycle rule clears
(README, "First run on Redshift").
"""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError
from dagster import get_dagster_logger

from sparkify_assets import sql_files

LOADS_FOLDER = "loads"  # under the temp prefix: the lifecycle rule's prefix
_DELETE_BATCH = 1000  # S3 DeleteObjects takes at most this many keys


def split_temp_uri(uri: str) -> tuple[str, str]:
    """(bucket, key prefix ending in '/' or '') of an `s3://bucket/prefix` URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{uri!r} is not an s3://bucket/prefix URI")
    path = parsed.path.strip("/")
    return parsed.netloc, f"{path}/" if path else ""


class TempFiles:
    """Files of one load under `<temp uri>/loads/<unique id>/`, all deleted on exit."""

    def __init__(self, client, temp_uri: str):
        self.client = client
        self.bucket, prefix = split_temp_uri(temp_uri)
        self.folder = f"{prefix}{LOADS_FOLDER}/{uuid.uuid4().hex}"
        self.keys: list[str] = []

    def __enter__(self) -> TempFiles:
        return self

    def __exit__(self, *exc) -> None:
        self.delete()

    def delete(self) -> None:
        """Delete every file written; a file S3 would not delete is logged, not raised: the
        load's data is safe either way, and the lifecycle rule clears it later."""
        failed: list[dict] = []
        for start in range(0, len(self.keys), _DELETE_BATCH):
            batch = [{"Key": k} for k in self.keys[start : start + _DELETE_BATCH]]
            try:
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except (BotoCoreError, ClientError) as exc:
                failed += [{"Key": b["Key"], "Code": type(exc).__name__} for b in batch]
                continue
            failed += answer.get("Errors", [])
        self.keys = []
        if failed:
            first = failed[0]
            get_dagster_logger().warning(
                f"{len(failed)} temporary COPY file(s) under s3://{self.bucket}/{self.folder}/ "
                f"were not deleted (first: {first.get('Key')}: {first.get('Code')}); the temp "
                "location's lifecycle rule removes them"
            )

    def _key(self, name: str) -> str:
        key = f"{self.folder}/{len(self.keys):06d}-{name}"
        self.keys.append(key)
        return key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, name: str, body: str) -> str:
        """Write `body` as a new file named after `name`; return its s3:// URI."""
        key = self._key(name)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body.encode("utf-8"))
        return self.uri(key)

    def put_file(self, name: str, path: str) -> str:
        key = self._key(name)
        self.client.upload_file(path, self.bucket, key)
        return self.uri(key)

    def region(self) -> str:
        answer = self.client.get_bucket_location(Bucket=self.bucket)
        return answer.get("LocationConstraint") or "us-east-1"


def put_jsonpaths(temp: TempFiles, table: str) -> str:
    """The table's JSONPaths (sql/<table>.jsonpaths) where COPY can read them; their URI."""
    jsonpaths = (sql_files.SQL_DIR / f"{table}.jsonpaths").read_text(encoding="utf-8")
    return temp.put(f"{table}.jsonpaths", jsonpaths)
