"""Databases on any PostgreSQL server reachable by URL: create, drop, point a URL at one."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql


def with_database(url: str, database: str) -> str:
    """The same URL as ``url`` (scheme, server, options kept), naming database ``database``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database)))


def libpq_url(url: str) -> str:
    """``url`` without a SQLAlchemy driver suffix (``postgresql+psycopg://`` -> ``postgresql://``)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


def create_database(url: str, database: str) -> None:
    """Create ``database`` on the server of ``url`` unless it exists."""
    with psycopg.connect(libpq_url(with_database(url, "postgres")), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def drop_database(url: str, database: str) -> None:
    """Drop ``database`` on the server of ``url``, disconnecting anyone still using it."""
    with psycopg.connect(libpq_url(with_database(url, "postgres")), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
