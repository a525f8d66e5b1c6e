"""Real Bazaar processes on 127.0.0.1 for the sync tests: a hub and field nodes, each with its
own database, driven over HTTP and by the `bazaar` command like an operator would."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from tests.backends import POSTGRES_URL, SELECTED, unavailable

from bazaar.lending.models import Customer, Loan, Payment, PaymentReversal
from bazaar.stamps import utcnow
from bazaar.sync.capture import synced_fields
from bazaar.sync.codec import encode

BIN = Path(sys.executable).parent / "bazaar"
PASSWORD = "field-officer-password-1"
API = "/api/v1"
START_SECONDS = 90
TODAY = utcnow().date().isoformat()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Bazaar:
    """One `bazaar serve` with its own database and working directory (where .env lives)."""

    name: str
    workdir: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BAZAAR_DATABASE_URL": self.database_url,
            "BAZAAR_ENVIRONMENT": "test",
            "BAZAAR_LOG_LEVEL": "WARNING",
            "BAZAAR_SCHEDULER_ENABLED": "false",
            **self.env,
        }

    async def cli(self, *args: str, check: bool = True) -> str:
        process = await asyncio.create_subprocess_exec(
            str(BIN),
            *args,
            cwd=self.workdir,
            env=self._env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        text = out.decode()
        if check and process.returncode != 0:
            raise AssertionError(f"bazaar {' '.join(args)} failed:\n{text}")
        return text

    async def start(self) -> None:
        log = (self.workdir / "serve.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            str(BIN),
            "serve",
            "--port",
            str(self.port),
            "--workers",
            "1",
            cwd=self.workdir,
            env=self._env(),
            stdout=log,
            stderr=log,
        )
        log.close()
        # A deadline, not a count of tries: on a busy machine start-up alone can take 20 s.
        deadline = asyncio.get_running_loop().time() + START_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            if self.process.returncode is not None:
                raise AssertionError(
                    f"{self.name} exited: {(self.workdir / 'serve.log').read_text()[-3000:]}"
                )
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} did not listen")

    async def stop(self, *, kill: bool = False) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        await self.process.wait()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=60)


async def login(bazaar: Bazaar, email: str, password: str = PASSWORD) -> dict[str, str]:
    async with bazaar.client() as http:
        answer = await http.post(f"{API}/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def call(
    bazaar: Bazaar,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any = None,
    ok: Iterable[int] = (200, 201),
) -> Any:
    async with bazaar.client() as http:
        answer = await http.request(method, f"{API}/{path}", json=body, headers=headers)
    assert answer.status_code in tuple(ok), f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else None


@asynccontextmanager
async def hub_database(kind: str, workdir: Path) -> AsyncIterator[str]:
    if kind not in SELECTED:
        pytest.skip(f"{kind} not in BAZAAR_TEST_BACKENDS={','.join(SELECTED)}")
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'hub.db'}"
        return
    url = make_url(POSTGRES_URL)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL unreachable: {exc}")
    name = f"bazaar_sync_{os.getpid()}_{secrets.token_hex(3)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def portfolio(database_url: str, officer_id: str) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every synced field of an officer's customers, loans, payments and reversals, by id."""
    engine = create_async_engine(database_url)
    officer = uuid.UUID(officer_id)
    queries = {
        "customer": (Customer, select(Customer).where(Customer.officer_id == officer)),
        "loan": (Loan, select(Loan).where(Loan.officer_id == officer)),
        "payment": (
            Payment,
            select(Payment)
            .join(Loan, Loan.id == Payment.loan_id)
            .where(Loan.officer_id == officer),
        ),
        "payment_reversal": (
            PaymentReversal,
            select(PaymentReversal)
            .join(Payment, Payment.id == PaymentReversal.payment_id)
            .join(Loan, Loan.id == Payment.loan_id)
            .where(Loan.officer_id == officer),
        ),
    }
    result: dict[str, dict[str, tuple[Any, ...]]] = {}
    try:
        async with engine.connect() as conn:
            for name, (model, query) in queries.items():
                columns = [getattr(model, f) for f in synced_fields(model)]
                rows = await conn.execute(query.with_only_columns(*columns))
                result[name] = {str(row.id): tuple(encode(v) for v in row) for row in rows}
    finally:
        await engine.dispose()
    return result


async def start_hub(kind: str, tmp: Path) -> tuple[Bazaar, Any]:
    context = hub_database(kind, tmp)
    url = await context.__aenter__()
    hub_dir = tmp / "hub"
    hub_dir.mkdir()
    hub = Bazaar("hub", hub_dir, url, env={"BAZAAR_NODE_ID": "hub"})
    await hub.cli("migrate")
    return hub, context


async def make_user(hub: Bazaar, email: str, role: str) -> str:
    out = await hub.cli(
        "user",
        "create",
        "--email",
        email,
        "--role",
        role,
        "--full-name",
        email.split("@")[0],
        "--password",
        PASSWORD,
    )
    return out.strip().splitlines()[-1].split()[-1].strip("()")


@dataclass
class Officer:
    id: str
    email: str
    hub_headers: dict[str, str]
    node: Bazaar
    node_headers: dict[str, str] | None = None


@dataclass
class Cluster:
    hub: Bazaar
    admin: dict[str, str]
    officers: list[Officer]


async def customer(
    bazaar: Bazaar, headers: dict[str, str], name: str, **extra: Any
) -> dict[str, Any]:
    body = {"full_name": name, "phone": "+91 98765 43210", **extra}
    return dict(await call(bazaar, "POST", "customers/", headers, body))


async def application(
    bazaar: Bazaar, headers: dict[str, str], customer_id: str, submit: bool = True
) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "principal": "24000.00",
        "annual_rate": "18",
        "installments": 12,
        "expected_disbursement_date": TODAY,
    }
    loan = dict(await call(bazaar, "POST", "loans/", headers, body))
    if submit:
        await call(bazaar, "POST", f"loans/{loan['id']}/submit", headers)
    return loan


async def approve_and_disburse(hub: Bazaar, admin: dict[str, str], loan_id: str) -> None:
    await call(hub, "POST", f"loans/{loan_id}/approve", admin)
    await call(hub, "POST", f"loans/{loan_id}/disburse", admin, {"disbursed_on": TODAY})


async def pay(bazaar: Bazaar, headers: dict[str, str], loan_id: str, amount: str) -> dict[str, Any]:
    body = {"loan_id": loan_id, "amount": amount, "paid_on": TODAY, "method": "cash"}
    return dict(await call(bazaar, "POST", "payments/", headers, body))


async def sync_until_quiet(officer: Officer, rounds: int = 40) -> None:
    """Sync until a cycle moves nothing and nothing waits in the outbox (backoffs included)."""
    assert officer.node_headers is not None
    for _ in range(rounds):
        report = await call(officer.node, "POST", "sync/batch", officer.node_headers)
        waiting = await call(officer.node, "GET", "sync/pending-count", officer.node_headers)
        if (
            report["error"] is None
            and report["pushed"] == report["pulled"] == 0
            and waiting["pending"] == 0
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"node did not quiesce: {report} {waiting}")


async def assert_converged(cluster: Cluster) -> None:
    for officer in cluster.officers:
        at_hub = await portfolio(cluster.hub.database_url, officer.id)
        on_node = await portfolio(officer.node.database_url, officer.id)
        for table in at_hub:
            assert on_node[table] == at_hub[table], f"{officer.node.name}: {table} differs"


@asynccontextmanager
async def running_cluster(
    kind: str, tmp_path: Path, *, officers: int = 2, node_env: dict[str, str] | None = None
) -> AsyncIterator[Cluster]:
    """A hub on `kind` with an admin, and per officer a field node joined with its own key,
    each a running `bazaar serve`."""
    hub, database = await start_hub(kind, tmp_path)
    nodes: list[Bazaar] = []
    try:
        await make_user(hub, "admin@hq.test", "admin")
        await hub.start()
        admin = await login(hub, "admin@hq.test")
        joined = []
        for number in range(1, officers + 1):
            email = f"officer{number}@hq.test"
            officer_id = await make_user(hub, email, "officer")
            key = await call(
                hub,
                "POST",
                "api-keys",
                admin,
                {"name": f"laptop {number}", "scope": "sync", "owner_id": officer_id},
            )
            node_dir = tmp_path / f"node{number}"
            node_dir.mkdir()
            node = Bazaar(
                f"node{number}",
                node_dir,
                f"sqlite+aiosqlite:///{node_dir / 'node.db'}",
                # Short backoffs so that "until quiet" is seconds, not minutes.
                env={
                    "BAZAAR_SYNC_BACKOFF_BASE_SECONDS": "0.05",
                    "BAZAAR_SYNC_BACKOFF_CAP_SECONDS": "0.2",
                    **(node_env or {}),
                },
            )
            nodes.append(node)
            out = await node.cli(
                "node", "join", hub.url, "--api-key", key["key"], "--node-id", f"laptop-{number}"
            )
            assert "joined" in out, out
            joined.append(Officer(officer_id, email, await login(hub, email), node))
        for officer in joined:
            await officer.node.start()
            officer.node_headers = await login(officer.node, officer.email)
        yield Cluster(hub, admin, joined)
    finally:
        for bazaar in [hub, *nodes]:
            await bazaar.stop(kill=True)
        await database.__aexit__(None, None, None)
