"""A Redshift stand-in for tests: Redshift's SQL, COPY from S3 and load-error views, run on a
real PostgreSQL 15 server with a moto S3/IAM server (see `fixtures.py` for the pytest fixture)."""

from tests.redshift_standin.connection import (
    RedshiftStandin,
    StandinConnection,
    StandinCursor,
    install_system_tables,
)
from tests.redshift_standin.guard import UnsupportedByRedshift

__all__ = [
    "RedshiftStandin",
    "StandinConnection",
    "StandinCursor",
    "UnsupportedByRedshift",
    "install_system_tables",
]
