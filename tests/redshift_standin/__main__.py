"""Run the whole graph on the Redshift engine against the stand-in, for any lake folder.

    .venv/bin/python -m tests.redshift_standin --lake sample_lake
    .venv/bin/python -m tests.redshift_standin --lake /path/to/lake --copy-min-bytes 0

It starts a moto S3/IAM server on loopback, creates a stand-in database on the local PostgreSQL
(the test login: SPARKIFY_TEST_DB_HOST, _PORT, _USER, _PASSWORD, as the tests use), uploads the
lake to a bucket, and materializes `sparkify_job` from the project's own Definitions with
SPARKIFY_WAREHOUSE=redshift, its connections going to the stand-in. It prints each table's rows
and the run's outcome, then drops the database.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import boto3
from dagster import DagsterInstance

from sparkify_assets.definitions import build_definitions
from sparkify_assets.resources.engines import redshift as redshift_engine
from sparkify_assets.sql_files import TABLE_ASSETS
from tests.redshift_standin.fixtures import standin_database
from tests.s3_server import FAKE_CREDENTIALS, moto_server


def upload(folder: Path, bucket: str, endpoint: str) -> str:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    for path in folder.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"lake/{path.relative_to(folder).as_posix()}")
    return f"s3://{bucket}/lake"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lake", type=Path, default=Path("sample_lake"), help="a lake folder")
    parser.add_argument(
        "--copy-min-bytes",
        type=int,
        default=None,
        help="SPARKIFY_REDSHIFT_COPY_MIN_BYTES (0: every object its own COPY)",
    )
    args = parser.parse_args(argv)
    os.environ.update(FAKE_CREDENTIALS)
    with moto_server() as endpoint, standin_database(endpoint) as standin:
        env = {
            "SPARKIFY_WAREHOUSE": "redshift",
            "SPARKIFY_LAKE": upload(args.lake, standin.bucket, endpoint),
            "SPARKIFY_S3_ENDPOINT_URL": endpoint,
            "SPARKIFY_DB_HOST": standin.host,
            "SPARKIFY_DB_PORT": str(standin.port),
            "SPARKIFY_DB_NAME": standin.database,
            "SPARKIFY_DB_USER": standin.user,
            "SPARKIFY_DB_PASSWORD": standin.password,
            "SPARKIFY_DB_SSLMODE": "disable",
            "SPARKIFY_IAM_ROLE_ARN": standin.iam_role_arn,
            "SPARKIFY_AWS_REGION": standin.region,
        }
        if args.copy_min_bytes is not None:
            env["SPARKIFY_REDSHIFT_COPY_MIN_BYTES"] = str(args.copy_min_bytes)
        os.environ.update(env)  # the password reaches the resource as EnvVar, as in production
        redshift_engine.psycopg2_connect = standin.connect
        defs = build_definitions(env)
        result = defs.resolve_job_def("sparkify_job").execute_in_process(
            instance=DagsterInstance.ephemeral(), raise_on_error=False
        )
        with defs.resources["warehouse"].process_config_and_initialize().session() as session:
            for table in (*TABLE_ASSETS, "staging_rejects"):
                print(f"  {table:<16}{session.count(table):>12,} rows")
        copies = sum(s.lstrip().upper().startswith("COPY") for s in standin.sent)
        print(f"\n{len(standin.sent)} statements sent, {copies} of them COPY")
        print("run " + ("succeeded" if result.success else "FAILED") + f": {result.run_id}")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
