"""The hub's protocol in one process: capture, pull, push, duplicates, conflicts, scope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tests.auth_fixtures import LoggedInUser, LoginAs

from bazaar.auth.roles import Role
from bazaar.config import ConfigurationError
from bazaar.sync.hlc import HLC, wall_clock_ms
from bazaar.sync.records import check_policy_overrides

API = "/api/v1"


async def new_customer(
    client: httpx.AsyncClient, officer: LoggedInUser, **fields: Any
) -> dict[str, Any]:
    body = {"full_name": "Asha Traders", "phone": "+91 98765 43210", **fields}
    answer = await client.post(f"{API}/customers/", json=body, headers=officer.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def pull(
    client: httpx.AsyncClient, user: LoggedInUser, *, node: str = "laptop-1", since: int = 0
) -> dict[str, Any]:
    answer = await client.get(
        f"{API}/sync/changes", params={"since": since, "node_id": node}, headers=user.headers
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def push(
    client: httpx.AsyncClient,
    user: LoggedInUser,
    items: list[dict[str, Any]],
    *,
    node: str = "laptop-1",
) -> list[dict[str, Any]]:
    answer = await client.post(
        f"{API}/sync/push", json={"node_id": node, "items": items}, headers=user.headers
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["results"])


def edit(
    customer: dict[str, Any], base: dict[str, Any], hlc: HLC, **changes: Any
) -> dict[str, Any]:
    return {
        "mutation_id": str(uuid.uuid4()),
        "entity_type": "customer",
        "entity_id": customer["id"],
        "op": "update",
        "command": None,
        "hlc": hlc.encode(),
        "changes": changes,
        "base": base,
    }


def now_hlc(node: str = "laptop-1") -> HLC:
    return HLC(wall_clock_ms(), 0, node)


async def test_writes_reach_the_change_log_and_the_owning_officer_pulls_them(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer, other = await login_as(Role.OFFICER), await login_as(Role.OFFICER)
    customer = await new_customer(client, officer)
    page = await pull(client, officer)
    [change] = [c for c in page["changes"] if c["entity_type"] == "customer"]
    assert change["entity_id"] == customer["id"]
    assert change["data"]["full_name"] == "Asha Traders"
    assert change["origin_node"] == "hub"
    assert any(u["id"] == str(officer.id) and u["password_hash"] != "!" for u in page["users"])
    theirs = (await pull(client, other, node="laptop-9"))["changes"]
    assert [c for c in theirs if c["entity_type"] == "customer"] == []


async def test_push_merges_fields_changed_on_one_side_and_is_idempotent(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    customer = await new_customer(client, officer)
    [change] = [
        c for c in (await pull(client, officer))["changes"] if c["entity_type"] == "customer"
    ]
    base = change["data"]
    hub_edit = await client.put(
        f"{API}/customers/{customer['id']}",
        json={"version": customer["version"], "address": "Pune"},
        headers=officer.headers,
    )
    assert hub_edit.status_code == 200, hub_edit.text
    item = edit(customer, base, now_hlc(), phone="+91 90000 00000")
    [result] = await push(client, officer, [item])
    assert result["outcome"] == "applied", result
    assert result["rows"][-1]["data"]["phone"] == "+91 90000 00000"
    [again] = await push(client, officer, [item])
    assert again["outcome"] == "duplicate"
    current = (
        await client.get(f"{API}/customers/{customer['id']}", headers=officer.headers)
    ).json()
    assert (current["phone"], current["address"]) == ("+91 90000 00000", "Pune")
    # The node's own change is not echoed back to it, but other nodes get it.
    assert not any(c["origin_node"] == "laptop-1" for c in (await pull(client, officer))["changes"])
    assert any(
        c["origin_node"] == "laptop-1"
        for c in (await pull(client, officer, node="laptop-2"))["changes"]
    )


async def test_a_poison_item_is_rejected_alone(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer, other = await login_as(Role.OFFICER), await login_as(Role.OFFICER)
    mine, theirs = await new_customer(client, officer), await new_customer(client, other)
    base = (await pull(client, officer))["changes"][-1]["data"]
    items = [
        edit(theirs, {}, now_hlc(), full_name="Stolen"),
        {
            "mutation_id": str(uuid.uuid4()),
            "entity_type": "nope",
            "entity_id": str(uuid.uuid4()),
            "op": "update",
            "hlc": now_hlc().encode(),
        },
        edit(mine, base, now_hlc(), full_name="Asha Traders & Sons"),
        edit(mine, base, HLC(now_hlc().wall_ms + 3_600_000, 0, "laptop-1"), address="Future"),
    ]
    results = await push(client, officer, items)
    assert [r["outcome"] for r in results] == ["rejected", "rejected", "applied", "rejected"]
    assert results[0]["code"] == "out_of_scope"
    assert results[0]["rows"] == []
    assert results[3]["code"] == "clock_drift"
    stolen = (await client.get(f"{API}/customers/{theirs['id']}", headers=other.headers)).json()
    assert stolen["full_name"] == "Asha Traders"


async def test_reordered_and_duplicated_deliveries_apply_each_mutation_once(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    customer_id = str(uuid.uuid4())
    created = {
        "id": customer_id,
        "full_name": "Offline Kirana",
        "phone": "+91 93333 00000",
        "officer_id": str(officer.id),
    }
    insert = {
        "mutation_id": str(uuid.uuid4()),
        "entity_type": "customer",
        "entity_id": customer_id,
        "op": "insert",
        "hlc": now_hlc().encode(),
        "changes": created,
        "base": {},
    }
    later = HLC(now_hlc().wall_ms + 1, 0, "laptop-1")
    update = edit({"id": customer_id}, created, later, address="Market Road")
    first = await push(client, officer, [update, insert])
    assert [(r["outcome"], r["retryable"]) for r in first] == [
        ("rejected", True),
        ("applied", False),
    ]
    second = await push(client, officer, [insert, update])
    assert [r["outcome"] for r in second] == ["duplicate", "applied"]
    third = await push(client, officer, [update, insert, update])
    assert [r["outcome"] for r in third] == ["duplicate", "duplicate", "duplicate"]
    current = (await client.get(f"{API}/customers/{customer_id}", headers=officer.headers)).json()
    assert (current["full_name"], current["address"]) == ("Offline Kirana", "Market Road")
    changes = [
        c
        for c in (await pull(client, officer, node="laptop-2"))["changes"]
        if c["entity_id"] == customer_id
    ]
    assert [c["op"] for c in changes] == ["insert", "update"]


async def test_a_node_id_belongs_to_the_user_who_first_synced_with_it(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    first, second = await login_as(Role.OFFICER), await login_as(Role.OFFICER)
    await pull(client, first, node="shared-laptop")
    answer = await client.get(
        f"{API}/sync/changes", params={"node_id": "shared-laptop"}, headers=second.headers
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "node_id_taken"
    refused = await client.post(
        f"{API}/sync/push", json={"node_id": "shared-laptop", "items": []}, headers=second.headers
    )
    assert refused.status_code == 403


def test_an_unknown_policy_in_settings_stops_the_start() -> None:
    with pytest.raises(ConfigurationError, match="BAZAAR_SYNC_POLICIES"):
        check_policy_overrides({"customer.phone": "loudest_wins"})
    check_policy_overrides({"customer.phone": "server_wins"})


async def test_an_officer_node_cannot_reverse_a_payment(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    reversal = {
        "mutation_id": str(uuid.uuid4()),
        "entity_type": "payment_reversal",
        "entity_id": str(uuid.uuid4()),
        "op": "insert",
        "command": "reversal",
        "hlc": now_hlc().encode(),
        "changes": {"payment_id": str(uuid.uuid4()), "reason": "typo in amount"},
    }
    [result] = await push(client, officer, [reversal])
    assert (result["outcome"], result["code"]) == ("rejected", "command_not_allowed")


async def test_a_node_creates_only_drafts_whatever_it_claims(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    customer = await new_customer(client, officer)
    loan_id = str(uuid.uuid4())
    claimed = {
        "id": loan_id,
        "customer_id": customer["id"],
        "principal": "50000",
        "annual_rate": "12",
        "installments": 6,
        "frequency": "monthly",
        "interest_method": "declining_balance",
        "amortization": "equal_installments",
        "grace_on_principal": 0,
        "expected_disbursement_date": wall_date(),
        "status": "disbursed",
        "approved_by": str(officer.id),
        "principal_paid": "50000",
    }
    item = {
        "mutation_id": str(uuid.uuid4()),
        "entity_type": "loan",
        "entity_id": loan_id,
        "op": "insert",
        "hlc": now_hlc().encode(),
        "changes": claimed,
    }
    [result] = await push(client, officer, [item])
    assert result["outcome"] == "applied", result
    loan = (await client.get(f"{API}/loans/{loan_id}", headers=officer.headers)).json()
    assert (loan["status"], loan["approved_by"], loan["principal_paid"]) == ("draft", None, "0.00")
    assert loan["principal"] == "50000.00"


def wall_date() -> str:
    return datetime.now(UTC).date().isoformat()


async def test_deletes_follow_lending_rules(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    officer = await login_as(Role.OFFICER)
    customer = await new_customer(client, officer)
    base = [c for c in (await pull(client, officer))["changes"] if c["entity_id"] == customer["id"]]
    body = {
        "customer_id": customer["id"],
        "principal": "1000.00",
        "annual_rate": "10",
        "installments": 3,
        "expected_disbursement_date": wall_date(),
    }
    answer = await client.post(f"{API}/loans/", json=body, headers=officer.headers)
    assert answer.status_code == 201, answer.text
    gone = datetime.now(UTC).isoformat()
    tombstone = edit(customer, base[-1]["data"], now_hlc(), deleted_at=gone)
    hard = {**edit(customer, {}, now_hlc()), "op": "delete"}
    results = await push(client, officer, [tombstone, hard])
    assert [(r["outcome"], r["code"]) for r in results] == [
        ("rejected", "customer_has_loans"),
        ("rejected", "invalid_mutation"),
    ]
    still = await client.get(f"{API}/customers/{customer['id']}", headers=officer.headers)
    assert still.status_code == 200


def new_application(officer: LoggedInUser, customer_id: str, **customer: Any) -> list[Any]:
    """A customer made offline, an application for them and its submission, as a node's
    outbox sends them."""
    loan_id = str(uuid.uuid4())
    terms = {
        "id": loan_id,
        "customer_id": customer_id,
        "principal": "20000",
        "annual_rate": "18",
        "installments": 12,
        "frequency": "monthly",
        "interest_method": "declining_balance",
        "amortization": "equal_installments",
        "grace_on_principal": 0,
        "expected_disbursement_date": wall_date(),
    }
    fields = {
        "id": customer_id,
        "full_name": "Kirana",
        "phone": "+91 93333 00000",
        "officer_id": str(officer.id),
        **customer,
    }
    made = [
        ("customer", customer_id, "insert", None, fields),
        ("loan", loan_id, "insert", None, terms),
        ("loan", loan_id, "update", "submit", {"status": "submitted"}),
    ]
    return [
        {
            "mutation_id": str(uuid.uuid4()),
            "entity_type": entity_type,
            "entity_id": entity_id,
            "op": op,
            "command": command,
            "hlc": now_hlc().encode(),
            "changes": changes,
        }
        for entity_type, entity_id, op, command, changes in made
    ]


async def test_one_failing_item_among_new_applications_leaves_the_others_applied(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    first, bad, last = (str(uuid.uuid4()) for _ in range(3))
    items = [
        *new_application(officer, first),
        *new_application(officer, bad, full_name=""),
        *new_application(officer, last),
    ]
    results = await push(client, officer, items)
    assert [(r["outcome"], r["retryable"]) for r in results] == [
        *[("applied", False)] * 3,
        ("rejected", False),  # the customer's name is required
        ("rejected", True),  # its customer is not there
        ("rejected", True),  # nor is its application
        *[("applied", False)] * 3,
    ]
    # Each applied item answers with the rows it wrote, at the node's time of each edit.
    for result, item in zip(results, items, strict=True):
        if result["outcome"] == "applied":
            assert item["entity_id"] in [row["entity_id"] for row in result["rows"]]
    for customer_id, status in ((first, 200), (bad, 404), (last, 200)):
        answer = await client.get(f"{API}/customers/{customer_id}", headers=officer.headers)
        assert answer.status_code == status
    loans = [items[1]["entity_id"], items[7]["entity_id"]]
    for loan_id in loans:
        loan = (await client.get(f"{API}/loans/{loan_id}", headers=officer.headers)).json()
        assert loan["status"] == "submitted"
    again = await push(client, officer, items)
    assert [r["outcome"] for r in again] == [
        *["duplicate"] * 4,
        "rejected",
        "rejected",
        *["duplicate"] * 3,
    ]


async def test_a_row_the_hub_database_refuses_leaves_the_items_around_it_applied(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    first, second = (new_application(officer, str(uuid.uuid4())) for _ in range(2))
    del first[1]["changes"]["frequency"]  # NOT NULL at the hub: refused at the flush
    results = await push(client, officer, [*first[:2], second[0]])
    assert [(r["outcome"], r["code"]) for r in results] == [
        ("applied", None),
        ("rejected", "integrity_error"),
        ("applied", None),
    ]
    changes = (await pull(client, officer, node="laptop-2"))["changes"]
    assert first[1]["entity_id"] not in [c["entity_id"] for c in changes]
