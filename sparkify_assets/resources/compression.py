"""Compressed lake objects: which are, and their content as the JSON they hold.

Whether an object is decompressed is decided by its bytes (gzip's magic number), whatever its
name: a `.json` object S3 stores gzip-encoded loads as well as a `.json.gz` one. Its suffix says
which compression it declares (`LakeObject.compression`), for engines that must be told, as
Redshift's COPY must be told GZIP. An object that starts like gzip but does not decompress is
handed on as it is: staging rejects it whole as not valid gzip (json_records.py).
"""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
# Declared compression by key suffix; a suffix not here declares none.
COMPRESSION_SUFFIXES = {".gz": "gzip"}
COPY_PIECE_BYTES = 1024 * 1024
_BROKEN_GZIP = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def declared_compression(key: str) -> str | None:
    """The compression `key`'s suffix declares ("gzip"), or None."""
    return next((c for s, c in COMPRESSION_SUFFIXES.items() if key.endswith(s)), None)


def content(body: bytes) -> bytes:
    """The JSON bytes an object's `body` holds: gunzipped when it is gzip (every member of it),
    as it is otherwise or when it does not decompress."""
    if not body.startswith(GZIP_MAGIC):
        return body
    try:
        return gzip.decompress(body)
    except _BROKEN_GZIP:
        return body


def content_file(path: Path, spool: Path) -> Path:
    """A file holding the JSON bytes of the object in `path`: `path` itself unless it is gzip,
    else its content streamed into a new file in `spool` (`path` when it does not decompress)."""
    with open(path, "rb") as raw:
        if raw.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
            return path
    target = spool / f"{path.name}.content"
    try:
        with gzip.open(path, "rb") as unzipped, open(target, "wb") as out:
            shutil.copyfileobj(unzipped, out, COPY_PIECE_BYTES)
    except _BROKEN_GZIP:
        target.unlink(missing_ok=True)
        return path
    return target
