"""The WebSocket endpoint against a real Uvicorn on 127.0.0.1 (embedded and Redis backends)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.auth_fixtures import LoggedInUser, LoginAs, new_session_headers
from tests.realtime.conftest import APP_ORIGIN
from tests.realtime.realtime_support import Socket, open_socket, refusal_status, ws_base
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from bazaar.auth.roles import Role

API = "/api/v1"


async def broadcast(http: httpx.AsyncClient, admin: LoggedInUser, message: str) -> dict[str, Any]:
    answer = await http.post(
        f"{API}/notifications/broadcast", json={"message": message}, headers=admin.headers
    )
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


async def test_handshake_is_refused_without_a_valid_token(
    live_server: str, login_as: LoginAs
) -> None:
    assert await refusal_status(live_server, None) == 401
    assert await refusal_status(live_server, "not-a-token") == 401
    officer = await login_as(Role.OFFICER)
    assert await refusal_status(live_server, officer.access_token[:-4] + "AAAA") == 401


async def test_handshake_is_refused_for_another_user_or_a_foreign_origin(
    live_server: str, login_as: LoginAs
) -> None:
    officer, customer = await login_as(Role.OFFICER), await login_as(Role.CUSTOMER)
    token = officer.access_token

    assert await refusal_status(live_server, token, path=f"/ws/connect/{customer.id}") == 403
    assert await refusal_status(live_server, token, origin="https://evil.example") == 403


async def test_a_revoked_token_is_refused(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    customer = await login_as(Role.CUSTOMER)
    answer = await http.post(f"{API}/auth/logout", headers=customer.headers)
    assert answer.status_code == 204

    assert await refusal_status(live_server, customer.access_token) == 401


async def test_token_in_query_or_subprotocol_from_the_app_origin(
    live_server: str, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    path = f"/ws/connect/{officer.id}"

    async with open_socket(live_server, officer.access_token, path=path, origin=APP_ORIGIN) as s:
        channels = set(s.welcome["channels"])
    async with open_socket(live_server, officer.access_token, in_protocol=True) as s:
        assert s.connection.subprotocol == "bearer"

    assert channels == {"broadcast", "role:officer", f"user:{officer.id}", f"officer:{officer.id}"}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


async def _loan_awaiting_approval(
    http: httpx.AsyncClient, officer: LoggedInUser, borrower: LoggedInUser
) -> str:
    customer = await http.post(
        f"{API}/customers/",
        json={"full_name": "Asha Traders", "phone": "+91 98765 43210", "user_id": str(borrower.id)},
        headers=officer.headers,
    )
    assert customer.status_code == 201, customer.text
    terms = {
        "customer_id": customer.json()["id"],
        "principal": "12000.00",
        "annual_rate": "12",
        "installments": 12,
        "expected_disbursement_date": today(),
    }
    loan = await http.post(f"{API}/loans/", json=terms, headers=officer.headers)
    assert loan.status_code == 201, loan.text
    loan_id = str(loan.json()["id"])
    submitted = await http.post(f"{API}/loans/{loan_id}/submit", headers=officer.headers)
    assert submitted.status_code == 200, submitted.text
    return loan_id


async def test_an_approval_reaches_the_officer_and_the_borrower_only(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    borrower = await login_as(Role.CUSTOMER)
    other_officer, other_borrower = await login_as(Role.OFFICER), await login_as(Role.CUSTOMER)
    loan_id = await _loan_awaiting_approval(http, officer, borrower)

    async with (
        open_socket(live_server, officer.access_token) as officer_socket,
        open_socket(live_server, borrower.access_token) as borrower_socket,
        open_socket(live_server, other_officer.access_token) as other_officer_socket,
        open_socket(live_server, other_borrower.access_token) as other_borrower_socket,
    ):
        answer = await http.post(f"{API}/loans/{loan_id}/approve", headers=admin.headers)
        assert answer.status_code == 200, answer.text

        for socket, channel in (
            (officer_socket, f"officer:{officer.id}"),
            (borrower_socket, f"user:{borrower.id}"),
        ):
            message = await socket.next()
            assert (message["type"], message["channel"]) == ("loan_status_change", channel)
            assert message["data"]["loan_id"] == loan_id
            assert message["data"]["new_status"] == "approved"
            assert {"offset", "epoch", "timestamp"} <= set(message)
        await other_officer_socket.silent()
        await other_borrower_socket.silent()


async def test_submission_and_payment_reach_their_readers_only(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    borrower, other_borrower = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)

    async with (
        open_socket(live_server, officer.access_token) as officer_socket,
        open_socket(live_server, borrower.access_token) as borrower_socket,
        open_socket(live_server, other_borrower.access_token) as other_socket,
    ):
        loan_id = await _loan_awaiting_approval(http, officer, borrower)
        submitted = [await officer_socket.next(), await officer_socket.next()]
        for command, body in (("approve", None), ("disburse", {"disbursed_on": today()})):
            answer = await http.post(
                f"{API}/loans/{loan_id}/{command}", json=body, headers=admin.headers
            )
            assert answer.status_code == 200, answer.text
        payment = {"loan_id": loan_id, "amount": "1000.00", "paid_on": today(), "method": "cash"}
        answer = await http.post(f"{API}/payments/", json=payment, headers=officer.headers)
        assert answer.status_code == 201, answer.text
        seen = await borrower_socket.until("payment_received")
        await other_socket.silent()

    assert {m["type"] for m in submitted} == {"loan_status_change", "new_application"}
    assert {m["data"]["loan_id"] for m in submitted + seen} == {loan_id}
    assert seen[-1]["data"]["amount"] == "1000.00"
    assert [m["data"].get("new_status") for m in seen if m["type"] == "loan_status_change"][
        -2:
    ] == ["approved", "disbursed"]


async def test_a_reversal_reaches_the_officer_and_the_borrower_only(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    borrower, other_borrower = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    loan_id = await _loan_awaiting_approval(http, officer, borrower)
    for command, body in (("approve", None), ("disburse", {"disbursed_on": today()})):
        answer = await http.post(
            f"{API}/loans/{loan_id}/{command}", json=body, headers=admin.headers
        )
        assert answer.status_code == 200, answer.text
    payment = {"loan_id": loan_id, "amount": "1000.00", "paid_on": today(), "method": "cash"}
    paid = await http.post(f"{API}/payments/", json=payment, headers=officer.headers)
    assert paid.status_code == 201, paid.text

    async with (
        open_socket(live_server, officer.access_token) as officer_socket,
        open_socket(live_server, borrower.access_token) as borrower_socket,
        open_socket(live_server, other_borrower.access_token) as other_socket,
    ):
        reversal = await http.delete(
            f"{API}/payments/{paid.json()['id']}",
            params={"reason": "cheque bounced"},
            headers=admin.headers,
        )
        assert reversal.status_code == 200, reversal.text
        to_officer = (await officer_socket.until("payment_reversed"))[-1]
        to_borrower = (await borrower_socket.until("payment_reversed"))[-1]
        await other_socket.silent()

    for message in (to_officer, to_borrower):
        assert message["data"]["payment_id"] == paid.json()["id"]
        assert message["data"]["loan_id"] == loan_id


async def test_subscribe_filters_by_type(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, customer = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)
    presence = ["user_offline", "user_online"]

    async with open_socket(live_server, admin.access_token) as watcher:
        await watcher.send({"type": "subscribe", "notification_types": presence})
        assert (await watcher.next())["notification_types"] == presence
        await broadcast(http, admin, "maintenance at noon")
        async with open_socket(live_server, customer.access_token) as other:
            await other.send({"type": "subscribe", "notification_types": ["user_online"]})
            refused = await other.next()
            defaults = other.welcome["notification_types"]
        seen = [await watcher.next(), await watcher.next()]
        # The watcher's own arrival may come through the broker after it subscribed.
        if seen[0]["data"]["user_id"] == str(admin.id):
            seen = [*seen[1:], await watcher.next()]

    assert [(m["type"], m["data"]["user_id"]) for m in seen] == [
        ("user_online", str(customer.id)),
        ("user_offline", str(customer.id)),
    ]
    assert refused["type"] == "subscribed"
    assert refused["ignored"] == [{"type": "user_online", "reason": "forbidden"}]
    assert refused["notification_types"] == defaults


# What the original system's client sends on connect.
ORIGINAL_SUBSCRIBE = {
    "type": "subscribe",
    "notification_types": ["loan_status_change", "new_application", "heartbeat"],
}


@pytest.mark.parametrize("ws_overrides", [{"ws_heartbeat_interval": 0.2}])
async def test_the_original_clients_subscribe_with_heartbeat_is_accepted(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)

    async with open_socket(live_server, officer.access_token) as socket:
        await socket.send(ORIGINAL_SUBSCRIBE)
        answer = await socket.next()
        await broadcast(http, admin, "not subscribed to maintenance notices")
        seen = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.8):
                while True:
                    seen.append((await socket.next(skip_heartbeats=False))["type"])
                    await socket.send({"type": "pong"})

    assert answer == {
        "type": "subscribed",
        "notification_types": ["loan_status_change", "new_application"],
        "channels": {},
        "ignored": [],
    }
    assert "heartbeat" in seen
    assert "system_maintenance" not in seen


async def test_unknown_and_forbidden_types_are_reported_and_the_rest_applies(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, customer = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)
    asked = ["system_maintenance", "heartbeat", "user_online", "loan_reminder"]

    async with open_socket(live_server, customer.access_token) as socket:
        await socket.send({"type": "subscribe", "notification_types": asked})
        subscribed = await socket.next()
        await broadcast(http, admin, "maintenance at noon")
        notice = await socket.next()
        await socket.send({"type": "unsubscribe", "notification_types": ["heartbeat", "nope"]})
        unsubscribed = await socket.next()
        await socket.send({"type": "subscribe", "notification_types": ["nope"]})
        unchanged = await socket.next()

    assert subscribed["notification_types"] == ["system_maintenance"]
    assert subscribed["ignored"] == [
        {"type": "user_online", "reason": "forbidden"},
        {"type": "loan_reminder", "reason": "unknown"},
    ]
    assert (notice["type"], notice["data"]["message"]) == (
        "system_maintenance",
        "maintenance at noon",
    )
    assert unsubscribed["ignored"] == [
        {"type": "heartbeat", "reason": "always_on"},
        {"type": "nope", "reason": "unknown"},
    ]
    assert unsubscribed["notification_types"] == ["system_maintenance"]
    assert unchanged["notification_types"] == ["system_maintenance"]
    assert unchanged["ignored"] == [{"type": "nope", "reason": "unknown"}]


async def test_malformed_messages_get_an_error_not_a_disconnect(
    live_server: str, login_as: LoginAs
) -> None:
    customer = await login_as(Role.CUSTOMER)

    async with open_socket(live_server, customer.access_token) as socket:
        for bad in ("{not json", {"type": "dance"}, {"type": "resume", "since": {}, "epoch": "x"}):
            await socket.send(bad)
            assert (await socket.next())["code"] == "invalid_message"
        await socket.send({"type": "resume", "since": {"role:admin": 0}, "epoch": "x"})
        assert (await socket.next())["code"] == "forbidden_channel"
        await socket.send({"type": "pong"})
        await socket.silent(0.2)


async def _missed_while_away(
    live_server: str, http: httpx.AsyncClient, admin: LoggedInUser, missed: int
) -> tuple[dict[str, Any], list[str]]:
    async with open_socket(live_server, admin.access_token) as socket:
        await broadcast(http, admin, "seen")
        last = await socket.next()
    texts = [f"missed {n}" for n in range(missed)]
    for text in texts:
        await broadcast(http, admin, text)
    return last, texts


async def test_resume_returns_exactly_the_missed_messages(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)
    last, texts = await _missed_while_away(live_server, http, admin, 4)

    async with open_socket(live_server, admin.access_token) as socket:
        resume = {"broadcast": last["offset"]}
        await socket.send({"type": "resume", "since": resume, "epoch": last["epoch"]})
        got = await socket.until("recovered")
        await broadcast(http, admin, "after")
        after = await socket.next()

    assert [m["data"]["message"] for m in got[:-1]] == texts
    assert [m["offset"] for m in got[:-1]] == list(range(last["offset"] + 1, last["offset"] + 5))
    assert got[-1]["recovered"] is True
    assert (after["data"]["message"], after["offset"]) == ("after", last["offset"] + 5)


@pytest.mark.parametrize("ws_overrides", [{"ws_history_size": 3}])
async def test_resume_says_not_recovered_once_history_is_gone(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)
    last, _ = await _missed_while_away(live_server, http, admin, 5)

    async with open_socket(live_server, admin.access_token) as socket:
        resume = {"broadcast": last["offset"]}
        await socket.send({"type": "resume", "since": resume, "epoch": last["epoch"]})
        too_old = await socket.next()
        await socket.send({"type": "resume", "since": resume, "epoch": "other-epoch"})
        other_epoch = await socket.next()

    assert (too_old["type"], too_old["recovered"]) == ("recovered", False)
    assert too_old["channels"]["broadcast"]["offset"] == last["offset"] + 5
    assert (other_epoch["type"], other_epoch["recovered"]) == ("recovered", False)


async def test_logout_closes_the_socket_within_a_second(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    customer = await login_as(Role.CUSTOMER)

    async with open_socket(live_server, customer.access_token) as socket:
        answer = await http.post(f"{API}/auth/logout", headers=customer.headers)
        assert answer.status_code == 204
        assert await socket.closed_with(wait=1.0) == 4001


async def test_logout_of_another_session_leaves_the_socket_open(
    live_server: str, app: FastAPI, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    customer = await login_as(Role.CUSTOMER)
    elsewhere = await new_session_headers(app.state, customer)

    async with open_socket(live_server, customer.access_token) as socket:
        answer = await http.post(f"{API}/auth/logout", headers=elsewhere)
        assert answer.status_code == 204
        await socket.send({"type": "pong"})
        await socket.silent(0.5)


async def test_revoking_an_api_key_closes_the_socket_it_opened(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    created = await http.post(f"{API}/api-keys", json={"name": "tablet"}, headers=officer.headers)
    assert created.status_code == 201, created.text
    key = created.json()

    async with open_socket(live_server, key["key"]) as socket:
        await socket.send({"type": "pong"})
        await socket.silent(0.2)
        answer = await http.delete(f"{API}/api-keys/{key['id']}", headers=officer.headers)
        assert answer.status_code == 204
        assert await socket.closed_with(wait=1.0) == 4001


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "customer"}])
async def test_deactivation_or_demotion_closes_the_socket_within_a_second(
    live_server: str, http: httpx.AsyncClient, login_as: LoginAs, change: dict[str, Any]
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)

    async with open_socket(live_server, officer.access_token) as socket:
        answer = await http.put(f"{API}/users/{officer.id}", json=change, headers=admin.headers)
        assert answer.status_code == 200, answer.text
        assert await socket.closed_with(wait=1.0) == 4001


async def test_an_oversized_frame_closes_with_1009(live_server: str, login_as: LoginAs) -> None:
    customer = await login_as(Role.CUSTOMER)

    async with open_socket(live_server, customer.access_token) as socket:
        await socket.send("x" * (64 * 1024 + 1))
        assert await socket.closed_with() == 1009


async def test_a_flood_is_throttled_then_closed_with_1008(
    live_server: str, login_as: LoginAs
) -> None:
    customer = await login_as(Role.CUSTOMER)

    async with open_socket(live_server, customer.access_token) as socket:
        for _ in range(200):
            await socket.send({"type": "pong"})
        throttled = await socket.next()
        assert (throttled["type"], throttled["code"]) == ("error", "rate_limited")
        assert await socket.closed_with() == 1008


@pytest.mark.parametrize("ws_overrides", [{"ws_max_connections": 1}])
async def test_beyond_max_connections_closes_with_1013(live_server: str, login_as: LoginAs) -> None:
    customer = await login_as(Role.CUSTOMER)
    url = f"{ws_base(live_server)}/ws?token={customer.access_token}"

    async with open_socket(live_server, customer.access_token), connect(url) as extra:
        assert await Socket(extra).closed_with() == 1013
    # The server frees the slot once it has seen the first socket close, a moment after the
    # client did: a new socket is accepted within that moment.
    for _ in range(40):
        try:
            async with open_socket(live_server, customer.access_token) as again:
                assert again.welcome["type"] == "subscribed"
                return
        except ConnectionClosedError:
            await asyncio.sleep(0.05)
    pytest.fail("the freed slot was never given to a new socket")


@pytest.mark.parametrize("ws_overrides", [{"ws_heartbeat_interval": 0.2}])
async def test_heartbeats_keep_answering_sockets_and_close_silent_ones(
    live_server: str, login_as: LoginAs
) -> None:
    customer = await login_as(Role.CUSTOMER)

    async with (
        open_socket(live_server, customer.access_token) as answering,
        open_socket(live_server, customer.access_token) as silent,
    ):
        for _ in range(6):
            beat = await answering.next(skip_heartbeats=False)
            assert beat["type"] == "heartbeat"
            await answering.send({"type": "pong"})
        assert await silent.closed_with(wait=2.0) == 4002
        await answering.send({"type": "pong"})
        assert (await answering.next(skip_heartbeats=False))["type"] == "heartbeat"


@pytest.mark.parametrize("ws_overrides", [{"log_level": "INFO"}])
async def test_a_token_in_the_query_never_reaches_the_logs(
    live_server: str, login_as: LoginAs, caplog: pytest.LogCaptureFixture
) -> None:
    customer = await login_as(Role.CUSTOMER)

    with caplog.at_level(logging.INFO):
        async with open_socket(live_server, customer.access_token):
            pass
        assert await refusal_status(live_server, customer.access_token, origin="https://x.test")

    assert "WebSocket /ws" in caplog.text
    assert customer.access_token not in caplog.text
