"""Real servers for the tests that need them: a PostgreSQL server named by
SPECQC_TEST_POSTGRES_URL (`.ci/run` starts a throwaway one) and Dask clusters.

Outside CI a test whose server is missing is skipped with the reason; with
CI=true it fails instead, so CI can never pass without having run it.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_VARIABLE = "SPECQC_TEST_POSTGRES_URL"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str):
    """Skip (outside CI) or fail (in CI) for a server that is not there."""
    if in_ci():
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_VARIABLE)
    if not url:
        missing(f"no PostgreSQL server: set {POSTGRES_VARIABLE} (.ci/start-postgres starts one)")
    try:
        import psycopg
    except ImportError:
        missing("psycopg is not installed (pip install -e '.[test]')")
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        missing(f"PostgreSQL server at {POSTGRES_VARIABLE} cannot be reached: {exc}")
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextmanager
def fresh_database():
    """A new, empty database on the test server (dropped afterwards); yields its URL."""
    import psycopg

    admin = postgres_admin_url()
    name = f"specqc_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
