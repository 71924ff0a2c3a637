"""The `redshift_standin` pytest fixture: a fresh database, a bucket and an IAM role.

Use it with `pytest_plugins = ("tests.redshift_standin.fixtures",)`. An engine that opens its
connections through a module-level `psycopg2_connect` is pointed at the stand-in with
`redshift_standin.install(monkeypatch, module)`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass

import boto3
import pytest

from tests.redshift_standin.connection import RedshiftStandin, install_system_tables
from tests.support import PG, admin_connection, drop_database

pytest_plugins = ("tests.s3_server",)

REGION = "us-west-2"  # the cluster's and the bucket's region
ROLE_NAME = "sparkify-standin-copy"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "redshift.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class StandinHandle:
    """What a test needs to reach the stand-in (and what it records)."""

    standin: RedshiftStandin
    host: str
    port: int
    database: str
    user: str
    password: str
    s3_endpoint: str  # moto itself: what tests use to put lake objects
    bucket: str  # the lake's bucket: the engine's writes into it are refused (403)
    iam_role_arn: str
    region: str
    temp_uri: str  # where the engine may write the files COPY reads
    lake_endpoint: str  # the engine's S3 endpoint: moto behind a proxy refusing lake writes
    lake_requests: list[tuple[str, str]]  # what the engine asked of S3: (method, path)
    lake_heads: list[str]  # the objects whose head (a byte range) the engine read

    @property
    def sent(self) -> list[str]:
        return self.standin.sent

    def connect(self, **kwargs):
        return self.standin.connect(**kwargs)

    def connect_kwargs(self) -> dict:
        return {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "user": self.user,
            "password": self.password,
        }

    def install(self, monkeypatch, module) -> None:
        monkeypatch.setattr(module, "psycopg2_connect", self.connect, raising=False)


def aws_client(service: str, endpoint: str, region: str = "us-east-1"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def make_role(endpoint: str, name: str) -> str:
    iam = aws_client("iam", endpoint)
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
            "Arn"
        ]


def make_bucket(endpoint: str, region: str) -> str:
    bucket = f"standin-{uuid.uuid4().hex[:16]}"
    s3 = aws_client("s3", endpoint, region)
    config = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": config} if config else {}))
    return bucket


@contextlib.contextmanager
def standin_database(s3_endpoint: str, serverless: bool = False, isolation: str = "serializable"):
    """A stand-in on a database of its own (dropped afterwards), a read-only lake bucket, a temp
    bucket and a role."""
    from tests.s3_server import latency_proxy  # imported once pytest registered it as a plugin

    name = f"sparkify_standin_{uuid.uuid4().hex[:12]}"
    stack = contextlib.ExitStack()
    with contextlib.closing(admin_connection()) as admin, admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        install_system_tables(dbname=name, **PG)
        role = make_role(s3_endpoint, ROLE_NAME)
        standin = RedshiftStandin(
            s3_endpoint=s3_endpoint,
            cluster_region=REGION,
            iam_roles=[role],
            serverless=serverless,
            isolation=isolation,
        )
        bucket = make_bucket(s3_endpoint, REGION)
        lake_endpoint, stats = stack.enter_context(latency_proxy(s3_endpoint, delay=0))
        stats.read_only.add(bucket)
        yield StandinHandle(
            standin=standin,
            host=PG["host"],
            port=PG["port"],
            database=name,
            user=PG["user"],
            password=PG["password"],
            s3_endpoint=s3_endpoint,
            bucket=bucket,
            iam_role_arn=role,
            region=REGION,
            temp_uri=f"s3://{make_bucket(s3_endpoint, REGION)}/sparkify-temp",
            lake_endpoint=lake_endpoint,
            lake_requests=stats.requests,
            lake_heads=stats.ranged,
        )
    finally:
        stack.close()
        drop_database(name)


@pytest.fixture
def redshift_standin(s3_endpoint):
    """A provisioned-cluster stand-in (STL_LOAD_ERRORS), at serializable isolation."""
    with standin_database(s3_endpoint) as handle:
        yield handle


@pytest.fixture(params=["serializable", "snapshot"])
def redshift_standin_each_isolation(request, s3_endpoint):
    """A provisioned-cluster stand-in at each isolation Redshift offers (snapshot: new clusters'
    default)."""
    with standin_database(s3_endpoint, isolation=request.param) as handle:
        yield handle


@pytest.fixture
def redshift_serverless_standin(s3_endpoint):
    """A Redshift Serverless stand-in (SYS_LOAD_ERROR_DETAIL only, no STL views)."""
    with standin_database(s3_endpoint, serverless=True) as handle:
        yield handle
