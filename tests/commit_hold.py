"""A test-only app factory for real server processes: `bazaar.main.create_app`, plus, when
`HOLD_ENV` names a file, a stop just before the COMMIT of any transaction that records a
payment. The process touches that file and stalls there (its event loop with it), with the
payment written but uncommitted and its Idempotency-Key claimed, until the test kills it.

    python -m uvicorn tests.commit_hold:create_app --factory
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from bazaar.main import create_app as create_bazaar

HOLD_ENV = "BAZAAR_TEST_HOLD_BEFORE_COMMIT"
_RECORDS_PAYMENT = "test.records_payment"


def create_app() -> FastAPI:
    if marker := os.environ.get(HOLD_ENV):
        _hold_before_commit(Path(marker))
    return create_bazaar()


def _hold_before_commit(marker: Path) -> None:
    @event.listens_for(Engine, "before_cursor_execute")
    def _note(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO payments "):
            conn.info[_RECORDS_PAYMENT] = True

    @event.listens_for(Engine, "rollback")
    def _forget(conn: Connection) -> None:
        conn.info.pop(_RECORDS_PAYMENT, None)

    @event.listens_for(Engine, "commit")
    def _hold(conn: Connection) -> None:
        if conn.info.pop(_RECORDS_PAYMENT, False):
            marker.touch()
            while True:
                time.sleep(3600)
