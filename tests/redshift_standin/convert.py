"""One source value into one column, the way Redshift's COPY converts it, or a row error.

Rules: https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html
(EMPTYASNULL, BLANKSASNULL, TRUNCATECOLUMNS, ROUNDEC, TIMEFORMAT, DATEFORMAT),
https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-json.html (JSON values),
error codes: https://docs.aws.amazon.com/redshift/latest/dg/r_Load_Error_Reference.html
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from dataclasses import dataclass

INT_RANGES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
INT_NAMES = {"int2": "Smallint", "int4": "Integer", "int8": "Bigint"}
_FORMAT_TOKENS = [("YYYY", "%Y"), ("YY", "%y"), ("MONTH", "%B"), ("MON", "%b"), ("MM", "%m"),
                  ("DD", "%d"), ("HH24", "%H"), ("HH12", "%I"), ("HH", "%H"), ("MI", "%M"),
                  ("SS", "%S"), ("AM", "%p"), ("PM", "%p")]  # fmt: skip
_AUTO_TIMESTAMPS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S",
                    "%Y/%m/%d %H:%M:%S", "%d-%b-%Y %H:%M:%S", "%Y%m%d %H:%M:%S")  # fmt: skip


class JsonNumber(str):
    """A JSON number, kept as the text it was written with (into VARCHAR it keeps that text)."""


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # format_type(), e.g. "character varying(512)"
    not_null: bool
    has_default: bool

    @property
    def kind(self) -> str:
        t = self.pg_type
        for prefix, kind in (("character varying", "varchar"), ("character", "char"),
                             ("smallint", "int2"), ("integer", "int4"), ("bigint", "int8"),
                             ("double precision", "float8"), ("real", "float4"),
                             ("numeric", "numeric"), ("boolean", "bool"), ("date", "date"),
                             ("timestamp with time zone", "timestamptz"),
                             ("timestamp", "timestamp")):  # fmt: skip
            if t.startswith(prefix):
                return kind
        return t

    @property
    def length(self) -> int | None:
        match = re.search(r"\((\d+)(?:,(\d+))?\)", self.pg_type)
        return int(match.group(1)) if match else None


class FieldError(Exception):
    def __init__(self, code: int, reason: str, position: int = 0):
        super().__init__(reason)
        self.code, self.reason, self.position = code, reason, position


def convert(col: Column, value, options: set[str], timeformat=None, dateformat=None):
    """`value` (None, str, JsonNumber, bool, dict or list) as the Python value to load."""
    if value is None:
        return None
    kind = col.kind
    if kind in ("varchar", "char"):
        return _text(col, value, options)
    if isinstance(value, dict | list):
        raise FieldError(1216, f"Invalid value for type {kind}: a JSON object or array")
    if isinstance(value, bool):
        if kind == "bool":
            return value
        raise FieldError(1207, f"Invalid digit, Value '{str(value).lower()}', Pos 0")
    text = value.strip() if not isinstance(value, JsonNumber) else value
    if text == "":
        return None  # an empty field of a non-character type always loads NULL
    if kind in INT_RANGES:
        return _integer(kind, text)
    if kind in ("float8", "float4"):
        if not re.fullmatch(
            r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", text, re.I
        ):
            raise FieldError(1208, f"Invalid float number, Value '{text}'")
        return float(text)
    if kind == "numeric":
        return _numeric(col, text, "ROUNDEC" in options)
    if kind == "bool":
        return _boolean(text)
    if kind in ("timestamp", "timestamptz"):
        return parse_time(text, timeformat, with_time=True)
    if kind == "date":
        return parse_time(text, dateformat, with_time=False).date()
    raise FieldError(1223, f"Invalid data type {col.pg_type} for the stand-in's COPY")


def _text(col: Column, value, options: set[str]) -> str | None:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        text = str(value)
    if "\x00" in text:
        # JSON COPY has no NULL AS, and the documentation does not say what a \u0000 in a value
        # becomes: a row error, or a value cut or kept. This stand-in takes the first reading
        # (invalid UTF-8, 1220), so the object is parsed by the engine, which rejects the record.
        # PostgreSQL cannot hold NUL in text, so the other readings cannot be run here.
        raise FieldError(1220, "String contains invalid or unsupported UTF8 codepoints")
    if "EMPTYASNULL" in options and text == "":
        return None
    if "BLANKSASNULL" in options and text != "" and text.strip(" \t") == "":
        return None
    if "TRIMBLANKS" in options:
        text = text.rstrip(" ")
    limit = col.length if col.length is not None else (1 if col.kind == "char" else 256)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError(1220, "String contains invalid or unsupported UTF8 codepoints") from None
    if len(data) > limit:  # VARCHAR(n) and CHAR(n) count bytes, not characters
        if "TRUNCATECOLUMNS" not in options:
            raise FieldError(1204, "String length exceeds DDL length")
        text = data[:limit].decode("utf-8", errors="ignore")
    return text


def _integer(kind: str, text: str) -> int:
    for pos, char in enumerate(text):
        if not (char.isdigit() and char.isascii()) and not (pos == 0 and char in "+-"):
            raise FieldError(1207, f"Invalid digit, Value '{char}', Pos {pos}, Type: "
                             f"{INT_NAMES[kind]}", pos)  # fmt: skip
    number = int(text)
    if not -INT_RANGES[kind] <= number < INT_RANGES[kind]:
        raise FieldError(1204, f"Overflow, Value '{text}', Type: {INT_NAMES[kind]}")
    return number


def _numeric(col: Column, text: str, round_half_up: bool) -> decimal.Decimal:
    match = re.search(r"\((\d+),(\d+)\)", col.pg_type)
    precision, scale = (int(match.group(1)), int(match.group(2))) if match else (18, 0)
    try:
        number = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise FieldError(1209, f"Invalid numeric value '{text}'") from None
    # Without ROUNDEC, COPY truncates to the column's scale; with it, it rounds.
    mode = decimal.ROUND_HALF_UP if round_half_up else decimal.ROUND_DOWN
    number = number.quantize(decimal.Decimal(1).scaleb(-scale), rounding=mode)
    if len(number.as_tuple().digits) > precision:
        raise FieldError(1204, f"Numeric data overflow, Value '{text}'")
    return number


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("t", "true", "y", "yes", "1"):
        return True
    if lowered in ("f", "false", "n", "no", "0"):
        return False
    raise FieldError(1210, f"Invalid boolean value '{text}'")


def parse_time(text: str, fmt: str | None, with_time: bool) -> dt.datetime:
    """TIMEFORMAT/DATEFORMAT: the default, 'auto', 'epochsecs', 'epochmillisecs' or a format
    string (https://docs.aws.amazon.com/redshift/latest/dg/r_DATEFORMAT_and_TIMEFORMAT_strings.html)."""
    code = 1206 if with_time else 1205
    try:
        if fmt in ("epochsecs", "epochmillisecs"):
            seconds = decimal.Decimal(text) / (1000 if fmt == "epochmillisecs" else 1)
            return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=float(seconds))
        if fmt == "auto":
            for candidate in _AUTO_TIMESTAMPS:
                parsed = _strptime(text, candidate)
                if parsed is not None:
                    return parsed
            raise ValueError(text)
        pattern = fmt or ("YYYY-MM-DD HH:MI:SS" if with_time else "YYYY-MM-DD")
        parsed = _strptime(text, _strftime_pattern(pattern))
        if parsed is None:
            raise ValueError(text)
        return parsed
    except (ValueError, ArithmeticError, OverflowError):
        kind = "timestamp" if with_time else "date"
        raise FieldError(code, f"Invalid {kind} format or value [{fmt or 'default'}]") from None


def _strftime_pattern(fmt: str) -> str:
    out, i = "", 0
    while i < len(fmt):
        for token, directive in _FORMAT_TOKENS:
            if fmt.upper().startswith(token, i):
                out, i = out + directive, i + len(token)
                break
        else:
            out, i = out + fmt[i].replace("%", "%%"), i + 1
    return out


def _strptime(text: str, pattern: str) -> dt.datetime | None:
    # Fractional seconds are accepted after the seconds field (up to microseconds).
    for attempt in (pattern, pattern + ".%f"):
        try:
            return dt.datetime.strptime(text, attempt)
        except ValueError:
            continue
    return None
