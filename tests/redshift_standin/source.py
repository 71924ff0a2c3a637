"""What COPY reads: the objects a FROM names (prefix or manifest), their records, JSONPaths.

Everything comes from the S3 API server the stand-in is configured with (moto on loopback).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from tests.redshift_standin.convert import JsonNumber

DOCS = "https://docs.aws.amazon.com/redshift/latest/dg/"


class LoadFailed(Exception):
    """The whole COPY fails (before or after reading records); `started` says whether the load
    process began, which decides whether PG_LAST_COPY_ID moves."""

    def __init__(self, message: str, started: bool = False):
        super().__init__(message)
        self.started = started


@dataclass
class Record:
    line_number: int  # for JSON: the last line of the object
    raw: str
    fields: object  # a dict/list for JSON, a list of (value, quoted) for CSV/TEXT
    error: str | None = None  # the record could not be parsed


def split_uri(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri, re.S)
    if not match:
        raise LoadFailed(f"Invalid S3 path {uri!r}: COPY reads s3://bucket/key")
    return match.group(1), match.group(2)


class S3Source:
    def __init__(self, endpoint_url: str, region: str):
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def bucket_region(self, bucket: str) -> str:
        try:
            location = self.client.get_bucket_location(Bucket=bucket)["LocationConstraint"]
        except ClientError as exc:
            raise LoadFailed(f"S3ServiceException: bucket {bucket!r}: {exc}") from None
        return location or "us-east-1"  # S3 reports us-east-1 as no constraint

    def read(self, uri: str) -> bytes:
        bucket, key = split_uri(uri)
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise LoadFailed(f"S3ServiceException: cannot read {uri}: {exc}") from None

    def exists(self, uri: str) -> bool:
        bucket, key = split_uri(uri)
        try:
            self.client.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError:
            return False

    def objects(self, source: str, manifest: bool) -> list[str]:
        """The object URIs a COPY FROM names."""
        if manifest:
            return self._manifest(source)
        # Without MANIFEST, FROM is a key prefix: every object whose key starts with it.
        # https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html
        bucket, prefix = split_uri(source)
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        uris = [f"s3://{bucket}/{o['Key']}" for page in pages for o in page.get("Contents", [])]
        if not uris:
            raise LoadFailed(f"The specified S3 prefix '{prefix}' does not exist")
        return uris

    def _manifest(self, source: str) -> list[str]:
        # Each entry names one object; a `mandatory` one that is missing fails the COPY, and
        # no object found fails it whatever `mandatory` says.
        # https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html
        try:
            entries = json.loads(self.read(source))["entries"]
        except (ValueError, KeyError, TypeError):
            raise LoadFailed(
                f"Problem reading manifest file {source}: not a COPY manifest"
            ) from None
        uris = []
        for entry in entries:
            uri = entry["url"]
            if self.exists(uri):
                uris.append(uri)
            elif entry.get("mandatory", False):
                raise LoadFailed(f"Manifest file is missing mandatory file: {uri}")
        if not uris:
            raise LoadFailed(f"The manifest {source} names no object that exists")
        return uris

    def jsonpaths(self, uri: str) -> list[str] | None:
        """The JSONPath expressions, or None when the file's object is not named "jsonpaths"
        (then COPY maps as with 'auto'): copy-usage_notes-copy-from-json.html."""
        try:
            document = json.loads(self.read(uri))
        except ValueError:
            raise LoadFailed(f"Invalid JSONPaths file {uri}: not JSON") from None
        if not isinstance(document, dict) or "jsonpaths" not in document:
            return None
        return list(document["jsonpaths"])


def decode(data: bytes, gzipped: bool, uri: str) -> str:
    if gzipped:
        try:
            data = gzip.decompress(data)
        except OSError:
            raise LoadFailed(f"gzip: {uri}: not in gzip format", started=True) from None
    # Invalid UTF-8 stays visible as surrogates; the record holding it is rejected (1220).
    return data.decode("utf-8", errors="surrogateescape")


def json_records(text: str) -> Iterator[Record]:
    """JSON objects (or arrays) one after another, whitespace between, any line layout."""
    decoder = json.JSONDecoder(parse_float=JsonNumber, parse_int=JsonNumber)
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return
        try:
            value, end = decoder.raw_decode(text, pos)
            error = None if isinstance(value, dict | list) else "Invalid JSON object"
        except json.JSONDecodeError as exc:
            # An unreadable record: skip to the end of its line and go on with the next.
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            value, error = None, f"Invalid JSON: {exc.msg}"
        yield Record(text.count("\n", 0, end) + 1, text[pos:end], value, error)
        pos = end


def delimited_records(text: str, delimiter: str, quote: str | None) -> Iterator[Record]:
    """CSV (quote is the CSV quote character) or Redshift's default pipe-delimited text."""
    line, pos = 1, 0
    while pos < len(text):
        start, fields, value, quoted, in_quotes = pos, [], "", False, False
        while pos < len(text):
            char = text[pos]
            if in_quotes:
                if char == quote and text[pos + 1 : pos + 2] == quote:
                    value, pos = value + quote, pos + 2
                    continue
                if char == quote:
                    in_quotes = False
                else:
                    value += char
            elif quote and char == quote and value.strip() == "":
                in_quotes, quoted, value = True, True, ""
            elif char == delimiter:
                fields.append((value, quoted))
                value, quoted = "", False
            elif char == "\n":
                break
            elif char == "\\" and not quote and pos + 1 < len(text):
                value, pos = value + text[pos + 1], pos + 2  # TEXT format's escape character
                continue
            else:
                value += char
            pos += 1
        fields.append((value[:-1] if value.endswith("\r") and not quoted else value, quoted))
        raw = text[start:pos]
        line += raw.count("\n")
        pos += 1
        yield Record(line, raw, fields, "Unterminated quoted field" if in_quotes else None)
        line += 1
