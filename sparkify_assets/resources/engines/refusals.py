"""Which warehouse errors are refusals: the server (or IAM, for a Redshift login) answered no to
this login or this statement, and asking again gets the same answer. A step that meets one fails
at once (failures.py); every other error may pass (a server restarting, a network blip, a
timeout) and is retried by the step's retry policy.

The one place that tells them apart, by SQLSTATE for PostgreSQL and Redshift, by error code for
AWS. Wrappers (`WarehouseUnavailable`, Redshift's `LoginError`) keep the original error as their
context, so the error that decides is the first one raised.
"""

from __future__ import annotations

import re

import botocore.exceptions
import psycopg2

# SQLSTATEs (PostgreSQL's appendix A; Redshift sends the same) that no retry can change.
REFUSED_SQLSTATES = {
    "28000": "invalid authorization specification",  # unknown role, no pg_hba.conf entry
    "28P01": "invalid password",
    "3D000": "invalid catalog name",  # no such database
    "42501": "insufficient privilege",
}
# libpq reports a login the server refused as text, without its SQLSTATE (psycopg2's pgcode is
# None): these are the server's messages for the SQLSTATEs above. A server whose messages are
# translated (lc_messages) matches none of them, and its refusals are retried, as any error.
LOGIN_REFUSALS = (
    (re.compile(r"FATAL: +password authentication failed for user"), "28P01"),
    (re.compile(r"FATAL: +\w+ authentication failed for user"), "28000"),
    (re.compile(r'FATAL: +role ".*" does not exist'), "28000"),
    (re.compile(r'FATAL: +role ".*" is not permitted to log in'), "28000"),
    (re.compile(r"FATAL: +no pg_hba\.conf entry for"), "28000"),
    (re.compile(r'FATAL: +database ".*" does not exist'), "3D000"),
    (re.compile(r'FATAL: +permission denied for database ".*"'), "42501"),
)
# AWS error codes of credentials that are missing, expired or may not ask (IAM login).
REFUSED_AWS_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
}


def sqlstate(error: psycopg2.Error) -> str | None:
    """The SQLSTATE of a PostgreSQL or Redshift error, also of a login libpq reports as text."""
    if error.pgcode:
        return error.pgcode
    message = str(error)
    return next((code for pattern, code in LOGIN_REFUSALS if pattern.search(message)), None)


def is_refusal(error: BaseException) -> bool:
    """Whether `error`, or the error it was raised from, is a refusal that a retry cannot
    change: a wrong password, an unknown role or database, a missing privilege, AWS credentials
    that are missing or expired and cannot renew."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, psycopg2.Error) and sqlstate(link) in REFUSED_SQLSTATES:
            return True
        if isinstance(link, botocore.exceptions.NoCredentialsError):
            return True
        if isinstance(link, botocore.exceptions.ClientError):
            return link.response.get("Error", {}).get("Code") in REFUSED_AWS_CODES
        link = link.__cause__ or link.__context__
    return False
