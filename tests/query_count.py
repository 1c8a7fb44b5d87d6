"""Counting the SQL statements a piece of code sends (the query budgets of the pages and the hall screen).

with count_queries() as statements:
    client.get("/admin/incidents")
assert len(statements) <= 8, "\\n".join(statements)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from models import db


@contextmanager
def count_queries(engine=None) -> Iterator[list[str]]:
    """Collect every statement sent to the database (the app's engine by default) inside the block."""
    engine = engine if engine is not None else db.engine
    statements: list[str] = []

    def hook(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", hook)
