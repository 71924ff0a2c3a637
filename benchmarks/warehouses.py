"""Scratch warehouses for the runs: a fresh one, a copy of a saved one, dropped afterwards, and
the environment that points the project at it, for DuckDB (files) and PostgreSQL (databases)."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path


def drop_database(admin, name: str, attempts: int = 20) -> None:
    """DROP DATABASE ... WITH (FORCE), waiting out an autovacuum worker: a superuser process that
    FORCE may not end for a non-superuser role (a fresh, big load is what wakes it)."""
    for attempt in range(attempts):
        try:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except Exception as exc:  # psycopg2 is imported lazily, where PostgreSQL is measured
            if type(exc).__name__ != "InsufficientPrivilege" or attempt == attempts - 1:
                raise
            time.sleep(1)


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, work: Path):
        self.work = work

    def fresh(self) -> str:
        return str(self.work / f"wh-{uuid.uuid4().hex[:8]}.duckdb")

    def clone(self, base: str) -> str:
        path = self.fresh()
        shutil.copyfile(base, path)
        return path

    def drop(self, handle: str) -> None:
        for suffix in ("", ".wal", ".tmp"):
            p = Path(handle + suffix)
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()

    def env(self, handle: str) -> dict[str, str]:
        return {"SPARKIFY_WAREHOUSE": "duckdb", "SPARKIFY_DUCKDB_PATH": handle}


class PostgresEngine:
    name = "postgres"

    def __init__(self, host: str, port: int, user: str, password: str):
        self.host, self.port, self.user, self.password = host, port, user, password

    def connect(self, database: str = "postgres"):
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            connect_timeout=5,
        )

    def _execute(self, sql: str, autocommit: bool = False) -> list[tuple]:
        """One statement on the server's `postgres` database; the rows it returns, if any."""
        con = self.connect()
        con.autocommit = autocommit
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description is not None else []
        finally:
            con.close()

    def _admin(self, sql: str) -> None:
        self._execute(sql, autocommit=True)

    # sparkify_bench_<pid of this script>_<random>: leftovers are dropped only when that process
    # is gone, so two benchmarks on one machine never drop each other's databases.
    PREFIX = "sparkify_bench_"

    def _new_name(self) -> str:
        return f"{self.PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"

    def fresh(self) -> str:
        name = self._new_name()
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def clone(self, base: str) -> str:
        name = self._new_name()
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
        return name

    def drop(self, handle: str) -> None:
        drop_database(self._admin, handle)

    def drop_leftovers(self) -> None:
        """Databases an interrupted earlier run of this script left behind."""
        names = "SELECT datname FROM pg_database WHERE datname LIKE 'sparkify_bench_%'"
        for (name,) in self._execute(names):
            match = re.fullmatch(rf"{self.PREFIX}(\d+)_[0-9a-f]{{8}}", name)
            if not match or Path(f"/proc/{match.group(1)}").exists():
                continue  # another naming, or a benchmark still running: not ours to drop
            self.drop(name)

    def env(self, handle: str) -> dict[str, str]:
        return {
            "SPARKIFY_WAREHOUSE": "postgres",
            "SPARKIFY_DB_HOST": self.host,
            "SPARKIFY_DB_PORT": str(self.port),
            "SPARKIFY_DB_NAME": handle,
            "SPARKIFY_DB_USER": self.user,
            "SPARKIFY_DB_PASSWORD": self.password,
        }

    def server_version(self) -> str:
        return self._execute("SHOW server_version")[0][0]
