"""Reading S3 objects: one client per endpoint and pool size, and a GET that starts again when
its body breaks off mid-transfer."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import boto3
import botocore.config
import botocore.exceptions

# Attempts at one object whose body broke off mid-transfer (boto3 retries only the request).
BODY_ATTEMPTS = 3
_BODY_ERRORS = (
    botocore.exceptions.ResponseStreamingError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.IncompleteReadError,
)
T = TypeVar("T")


class ObjectReadError(RuntimeError):
    """One lake object could not be read (after boto3's retries); the message names it."""


@functools.lru_cache(maxsize=8)
def s3_client(
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


def get_body(client, bucket: str, key: str, uri: str, take: Callable[..., T]) -> T:
    """`take` the body of one GET of `key`; again from the start when the body breaks off. Errors
    name the object by `uri`."""
    attempt = 1
    while True:
        try:
            answer = client.get_object(Bucket=bucket, Key=key)
            return take(answer["Body"])
        except _BODY_ERRORS as exc:
            if attempt == BODY_ATTEMPTS:
                raise ObjectReadError(f"{uri}: {exc}") from exc
            attempt += 1
        except botocore.exceptions.ClientError as exc:
            raise ObjectReadError(f"{uri}: {exc}") from exc
