"""Bidirectional convergence: edits and deletes on both sides, then syncs until quiet, leave
both sides holding the same records (compared by hash), for a fixed story and for random
ones under API_WINS, DB_WINS and LATEST_TIMESTAMP."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crm.conftest import Crm
from tests.crm.fake_crm import FakeCRM, FakeServer
from tests.crm.mirror.conftest import Mirror, connect

FIELDS = ("name", "phone", "notes")
PHONES = ("+254700001", "+254700002", "+254700003")


def _digest(records: list[dict[str, Any]]) -> str:
    rows = sorted(json.dumps([r.get(name) for name in FIELDS]) for r in records)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


async def both_sides(mirror: Mirror) -> tuple[str, str]:
    local = await mirror.locals("clients")
    remote = [r for r in mirror.fake.records["clients"].values() if not r.get("deleted_at")]
    return _digest(local), _digest(remote)


async def sync_until_quiet(mirror: Mirror) -> None:
    for _ in range(4):
        run = await mirror.sync()
        if run["pushed"] == run["created"] == run["updated"] == run["deleted"] == 0:
            return
    raise AssertionError("the sync did not settle")


async def _edit_local(mirror: Mirror, client: dict[str, Any], **fields: Any) -> None:
    current = await mirror.local(f"clients/{client['id']}")
    assert current is not None
    answer = await mirror.crm.send(
        "PUT", f"clients/{client['id']}", mirror.crm.admin, version=current["version"], **fields
    )
    assert answer.status_code == 200, answer.text


async def test_edits_and_deletes_on_both_sides_converge(mirror: Mirror) -> None:
    a = await mirror.crm.client(mirror.crm.admin, name="A")
    b = await mirror.crm.client(mirror.crm.admin, name="B")
    mirror.fake.put("clients", name="C")
    d = mirror.fake.put("clients", name="D")
    await mirror.sync()
    await _edit_local(mirror, a, phone=PHONES[0])
    deleted = await mirror.crm.send("DELETE", f"clients/{b['id']}", mirror.crm.admin)
    mirror.fake.put("clients", id=d["id"], deleted_at="2026-12-01T00:00:00+00:00")
    mirror.fake.put("clients", name="E")
    await mirror.crm.client(mirror.crm.admin, name="F")

    await sync_until_quiet(mirror)

    local, remote = await both_sides(mirror)
    assert deleted.status_code == 204
    assert local == remote
    assert sorted(c["name"] for c in await mirror.locals("clients")) == ["A", "C", "E", "F"]


OPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["local", "remote"]), st.just("create"), st.integers(0, 9)),
        st.tuples(
            st.sampled_from(["local", "remote"]),
            st.sampled_from(["name", "phone", "notes", "delete"]),
            st.integers(0, 9),
        ),
        st.tuples(st.just("sync"), st.just(""), st.just(0)),
    ),
    min_size=1,
    max_size=8,
)


async def _apply(mirror: Mirror, side: str, what: str, n: int) -> None:
    if side == "sync":
        await mirror.sync()
        return
    if side == "remote":
        live = [r for r in mirror.fake.records["clients"].values() if not r.get("deleted_at")]
        if what == "create" or not live:
            mirror.fake.put("clients", name=f"R{n}")
            return
        target = live[n % len(live)]
        if what == "delete":
            mirror.fake.put("clients", id=target["id"], deleted_at="2026-12-01T00:00:00+00:00")
        else:
            mirror.fake.put("clients", id=target["id"], **{what: _value(what, n)})
        return
    local = await mirror.locals("clients")
    if what == "create" or not local:
        await mirror.crm.client(mirror.crm.admin, name=f"L{n}")
        return
    target = local[n % len(local)]
    if what == "delete":
        answer = await mirror.crm.send("DELETE", f"clients/{target['id']}", mirror.crm.admin)
        assert answer.status_code == 204, answer.text
    else:
        await _edit_local(mirror, target, **{what: _value(what, n)})


def _value(field: str, n: int) -> str:
    return PHONES[n % len(PHONES)] if field == "phone" else f"{field}-{n}"


@pytest.mark.parametrize("strategy", ["API_WINS", "DB_WINS", "LATEST_TIMESTAMP"])
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
async def test_random_edits_on_both_sides_converge(
    crm: Crm, strategy: str, ops: list[tuple[str, str, int]]
) -> None:
    with FakeServer(FakeCRM()) as server:
        connection = await connect(crm, server, strategy=strategy, skew_seconds=0.0)
        mirror = Mirror(crm, server, connection)
        try:
            for op in ops:
                await _apply(mirror, *op)
            await sync_until_quiet(mirror)
            local, remote = await both_sides(mirror)
            assert local == remote
        finally:
            await crm.send("DELETE", f"crm/connections/{connection['id']}", crm.admin)
