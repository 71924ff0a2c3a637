"""Failures say why, fast: a refusal (wrong password, unknown database, missing privilege,
IAM credentials that cannot renew) fails its step at the first attempt with its reason, which
the quiet runner prints; what passes (a connection cut by a restarting server) is still
retried; a bad setting stops either command with one line and exit status 2. On the real
PostgreSQL server."""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import subprocess
import sys
import threading
from types import SimpleNamespace

import boto3
import pytest
from dagster import Failure, RetryPolicy, asset, materialize

from sparkify_assets.failures import failure_reason
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from sparkify_assets.resources.engines.redshift_login import LoginError, temporary_login
from sparkify_assets.resources.engines.refusals import is_refusal
from tests.support import (
    PG,
    Relay,
    assert_matches_reference,
    cli_env,
    connect_to,
    free_port,
    importing_this_checkout,
    run_graph,
    service_unavailable,
)

QUIET_RUNNER = [sys.executable, "-m", "sparkify_assets"]
PREFLIGHT = [sys.executable, "-m", "sparkify_assets.preflight"]
LIMITED = {"user": "sparkify_test_limited", "password": "sparkify-limited-pw"}  # see .ci/run


def test_a_wrong_password_fails_at_once_logs_in_once_per_step_and_says_why(
    postgres_warehouse, lake_dir, tmp_path
):
    """The quiet runner through a relay that counts the logins the server sees: one per staging
    step (with the retries, four each), the run over in seconds (with them, over 20), and the
    server's reason under each failed step, without the password."""
    secret = "not-the-password-71b9"
    relay = Relay(PG["port"])
    env = cli_env(postgres_warehouse, lake_dir, tmp_path / "home")
    del env["DAGSTER_HOME"]  # as `make run`: a throwaway instance
    env |= {"SPARKIFY_DB_PORT": str(relay.port), "SPARKIFY_DB_PASSWORD": secret}
    # One connection per login: with `prefer`, libpq logs in again without SSL after a refused
    # login over SSL, on a server that has SSL on.
    env["SPARKIFY_DB_SSLMODE"] = "disable"
    done = subprocess.run(
        QUIET_RUNNER, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    failed = [i for i, line in enumerate(lines) if re.search(r" FAILED +\d+\.\d s$", line)]
    assert [lines[i].split()[0] for i in failed] == ["staging_events", "staging_songs"]
    assert relay.connections == len(failed)
    (seconds,) = re.findall(r"^run FAILED in (\d+\.\d) s: ", done.stdout, re.MULTILINE)
    assert float(seconds) < 10
    for i in failed:
        assert lines[i + 1] == (
            f"    cannot connect to the postgres warehouse at postgres://{PG['user']}@"
            f"{PG['host']}:{relay.port}/{postgres_warehouse.database}: connection to server at "
            f'"{PG["host"]}", port {relay.port} failed: FATAL:  password authentication failed '
            f'for user "{PG["user"]}" (check SPARKIFY_DB_HOST, _PORT, _NAME, _USER, _PASSWORD)'
        )
    assert secret not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_a_connection_cut_by_a_restarting_server_is_retried(postgres_warehouse, lake_dir):
    """The run's first connection is closed before the server answers, as by a server
    restarting: that step fails, its retry (2 s later) connects, and the run builds every
    table."""
    relay = Relay(PG["port"])
    relay.to_cut = 1
    # No SSL: with `prefer`, libpq would answer the cut with a second connection of its own.
    through_relay = PostgresWarehouse(
        database=postgres_warehouse.database, **PG | {"port": relay.port}, sslmode="disable"
    )
    result = run_graph(through_relay, lake_dir)
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1 and retries[0].step_key.startswith("staging_")
    assert "server closed the connection unexpectedly" in str(retries[0].event_specific_data)
    assert_matches_reference(postgres_warehouse, lake_dir)


@contextlib.contextmanager
def limited_login_without_connect(warehouse: PostgresWarehouse):
    """The limited test role, on `warehouse`'s database, after its owner revoked CONNECT."""
    with contextlib.closing(connect_to(warehouse.database)) as owner, owner.cursor() as cur:
        cur.execute(f'REVOKE CONNECT ON DATABASE "{warehouse.database}" FROM PUBLIC')
        owner.commit()
    yield warehouse.model_copy(update=LIMITED)


def error_of(attempt) -> BaseException:
    try:
        attempt()
    except Exception as error:
        return error
    raise AssertionError("no error")


def session_error(warehouse: PostgresWarehouse, statement: str = "SELECT 1") -> BaseException:
    def attempt():
        with warehouse.session() as session:
            session.query_text(statement)

    return error_of(attempt)


def test_refusals_are_told_from_errors_that_may_pass(postgres_warehouse):
    """What the real server answers, through the engine: each refusal is one, each error that
    may pass (no server there, a failing statement) is not."""
    with contextlib.closing(connect_to("postgres")) as con, con.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (LIMITED["user"],))
        if not cur.fetchone():
            service_unavailable(f"no role {LIMITED['user']} (see .ci/run)")
    relay = Relay(PG["port"])  # counts the tries to create a table without the privilege
    limited = PostgresWarehouse(
        database=postgres_warehouse.database, **PG | LIMITED | {"port": relay.port}
    )
    refusals = {
        "wrong password": session_error(postgres_warehouse.model_copy(update={"password": "x"})),
        "unknown role": session_error(postgres_warehouse.model_copy(update={"user": "no_such"})),
        "unknown database": session_error(
            postgres_warehouse.model_copy(update={"database": "no_such_database_5c2"})
        ),
        "no privilege to create": error_of(lambda: limited.ensure_tables(["load_manifest"])),
    }
    assert relay.connections == 1  # refused once: not tried again
    with limited_login_without_connect(postgres_warehouse) as without_connect:
        refusals["no privilege to connect"] = session_error(without_connect)
    passing = {
        "no server there": session_error(PostgresWarehouse(port=free_port(), **LIMITED)),
        "a failing statement": session_error(postgres_warehouse, "SELECT 1 / 0"),
    }
    assert {what: is_refusal(error) for what, error in refusals.items()} == dict.fromkeys(
        refusals, True
    )
    assert {what: is_refusal(error) for what, error in passing.items()} == dict.fromkeys(
        passing, False
    )


class IamAnswers(http.server.BaseHTTPRequestHandler):
    """The Redshift API on loopback, answering every request with the error `code`."""

    code = "ExpiredToken"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{self.code}</Code><Message>no</Message></Error>"
            "<RequestId>1</RequestId></ErrorResponse>"
        ).encode()
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_iam_credentials_that_cannot_renew_are_refusals(aws_credentials, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), IamAnswers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = SimpleNamespace(
        user="loader",
        database="dev",
        login_region="us-east-1",
        cluster_identifier="cluster-1",
        workgroup=None,
        aws_endpoint_url=f"http://127.0.0.1:{server.server_port}",
    )
    try:
        expired = error_of(lambda: temporary_login(settings))
        assert isinstance(expired, LoginError) and "ExpiredToken" in str(expired)
        assert is_refusal(expired)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it keeps the credentials it found
        no_credentials = error_of(lambda: temporary_login(settings))
        assert isinstance(no_credentials, LoginError) and is_refusal(no_credentials)
    finally:
        server.shutdown()
        server.server_close()


def test_a_step_out_of_retries_gives_its_last_error_as_its_reason():
    """Dagster fails such a step with "Exceeded max_retries"; the reason is what the last
    attempt raised, as for a step that failed at once."""
    attempts = []

    @asset(retry_policy=RetryPolicy(max_retries=1))
    def flaky():
        attempts.append(1)
        raise RuntimeError(f"attempt {len(attempts)} failed\nsecond line")

    @asset
    def refused():
        raise Failure(description="refused: no\nsecond line", allow_retries=False)

    result = materialize([flaky, refused], raise_on_error=False)
    reasons = {
        e.step_key: failure_reason(e.event_specific_data)
        for e in result.all_events
        if e.is_step_failure
    }
    assert reasons == {"flaky": "RuntimeError: attempt 2 failed", "refused": "refused: no"}


@pytest.mark.parametrize(
    "command, setting, value, message",
    [
        (
            QUIET_RUNNER,
            "SPARKIFY_LAKE",
            "/no/such/lake",
            "SPARKIFY_LAKE='/no/such/lake' is not a folder; use a folder or s3://bucket/prefix",
        ),
        (
            PREFLIGHT,
            "SPARKIFY_LAKE",
            "/no/such/lake",
            "SPARKIFY_LAKE='/no/such/lake' is not a folder; use a folder or s3://bucket/prefix",
        ),
        (
            QUIET_RUNNER,
            "SPARKIFY_MAX_REJECT_RATE",
            "lots",
            "SPARKIFY_MAX_REJECT_RATE='lots' is not a share; use a number from 0 to 1, e.g. 0.01",
        ),
    ],
)
def test_a_bad_setting_exits_2_with_one_line(command, setting, value, message, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKIFY_")}
    env = importing_this_checkout(env)
    done = subprocess.run(
        command,
        env=env | {setting: value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # One line, no traceback, nothing else: the run never started.
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message + "\n")
