"""What goes wrong: a record the CRM refuses fails alone and is retried, malformed answers
fail the record or the run with a clear error and never a half-applied page, and a second
run of a connection while one runs is refused with the running run's id."""

from __future__ import annotations

from tests.crm.mirror.conftest import Mirror


async def test_a_refused_record_fails_alone_and_is_retried(mirror: Mirror) -> None:
    mirror.fake.behaviour.reject.add("Forbidden Name")
    refused = await mirror.crm.client(mirror.crm.admin, name="Forbidden Name")
    fine = await mirror.crm.client(mirror.crm.admin, name="Fine Name")

    run = await mirror.sync(expect="partial")
    mirror.fake.behaviour.reject.clear()
    retried = await mirror.sync()

    assert run["failed"] == 1
    assert run["failures"] == [
        {
            "entity": "clients",
            "side": "push",
            "message": "client refused: name not allowed",
            "local_id": refused["id"],
            "external_id": None,
        }
    ]
    assert mirror.remote_by_bazaar_id("clients", fine["id"])["name"] == "Fine Name"
    assert retried["pushed"] == 1
    assert mirror.remote_by_bazaar_id("clients", refused["id"])["name"] == "Forbidden Name"
    assert len(mirror.fake.records["clients"]) == 2


async def test_a_malformed_page_fails_the_run_and_applies_nothing(mirror: Mirror) -> None:
    await mirror.configure(entities=["clients"], direction="pull")
    mirror.fake.put("clients", name="Asha Traders")
    mirror.fake.behaviour.garbage.append("<html>maintenance</html>")

    run = await mirror.sync(expect="failed")
    after = await mirror.sync()

    assert run["error"] == "CRMProtocolError: the CRM answered 200 with a body that is not JSON"
    assert run["created"] == 0
    assert after["created"] == 1


async def test_records_of_the_wrong_shape_fail_alone(mirror: Mirror) -> None:
    await mirror.configure(entities=["clients", "projects"], direction="pull")
    mirror.fake.put("clients", name="Asha Traders")
    mirror.fake.put("projects", name="Expansion", status="not-a-status")
    mirror.fake.put("projects", name="Orphan", client_id="client-that-does-not-exist")
    mirror.fake.put("clients", name=12345)
    nameless = mirror.fake.put("clients", name="No id")
    del mirror.fake.records["clients"][nameless["id"]]["id"]

    run = await mirror.sync(expect="partial")
    names = sorted(c["name"] for c in await mirror.locals("clients"))

    assert names == ["Asha Traders"]
    assert await mirror.locals("projects") == []
    messages = sorted(f["message"] for f in run["failures"])
    assert len(messages) == 4
    assert "client_id names clients client-that-does-not-exist, which is not synced yet" in messages
    assert "status 'not-a-status' is not one Bazaar knows" in messages
    assert any("does not follow the contract" in m for m in messages)


async def test_a_second_run_while_one_runs_is_refused_with_its_id(mirror: Mirror) -> None:
    for n in range(3):
        mirror.fake.put("clients", name=f"Client {n}")
    await mirror.configure(batch_size=1)
    mirror.fake.behaviour.delay = 0.2
    first = await mirror.start()

    second = await mirror.crm.send(
        "POST", f"crm/connections/{mirror.connection['id']}/sync", mirror.crm.admin
    )
    mirror.fake.behaviour.delay = 0.0
    done = await mirror.wait(first)

    assert second.status_code == 409
    assert second.json()["error"]["details"] == {"run_id": first}
    assert done["status"] == "succeeded"
    assert done["created"] == 3
