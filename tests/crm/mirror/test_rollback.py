"""Rolling back a run restores the local rows exactly and the CRM's records to their state
before it; a rollback after a later edit is refused with the records changed since."""

from __future__ import annotations

from tests.crm.mirror.conftest import Mirror

COMPARED = ("name", "contact_person", "email", "phone", "company", "notes")


def _fields(record: dict[str, object] | None) -> tuple[object, ...] | None:
    return None if record is None else tuple(record[name] for name in COMPARED)


async def test_rollback_restores_both_sides(mirror: Mirror) -> None:
    edited = await mirror.crm.client(mirror.crm.admin, name="Edited here")
    deleted = await mirror.crm.client(mirror.crm.admin, name="Deleted there")
    kept = await mirror.crm.client(mirror.crm.admin, name="Pushed later")
    await mirror.sync()
    remote_edited = mirror.remote_by_bazaar_id("clients", edited["id"])["id"]
    remote_deleted = mirror.remote_by_bazaar_id("clients", deleted["id"])["id"]
    remote_kept = mirror.remote_by_bazaar_id("clients", kept["id"])["id"]
    before_local = {
        row["id"]: _fields(await mirror.local(f"clients/{row['id']}"))
        for row in (edited, deleted, kept)
    }
    current = await mirror.local(f"clients/{kept['id']}")
    assert current is not None
    await mirror.crm.send(
        "PUT", f"clients/{kept['id']}", mirror.crm.admin, version=current["version"], notes="x"
    )
    before_remote = {
        rid: mirror.remote("clients", rid) for rid in (remote_edited, remote_deleted, remote_kept)
    }
    mirror.fake.put("clients", id=remote_edited, email="changed@example.com")
    mirror.fake.put("clients", id=remote_deleted, deleted_at="2026-12-01T00:00:00+00:00")
    arrival = mirror.fake.put("clients", name="Arrived there")
    run = await mirror.sync()

    answer = await mirror.crm.send("POST", f"crm/runs/{run['id']}/rollback", mirror.crm.admin)
    again = await mirror.crm.send("POST", f"crm/runs/{run['id']}/rollback", mirror.crm.admin)

    assert (run["created"], run["updated"], run["deleted"], run["pushed"]) == (1, 1, 1, 1)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "rolled_back"
    assert again.status_code == 409
    for row in (edited, deleted):
        assert _fields(await mirror.local(f"clients/{row['id']}")) == before_local[row["id"]]
    assert [c["name"] for c in await mirror.locals("clients") if c["name"] == "Arrived there"] == []
    assert mirror.remote("clients", remote_kept)["notes"] is None
    assert _fields(mirror.remote("clients", remote_kept)) == _fields(before_remote[remote_kept])
    assert arrival["id"] in mirror.fake.records["clients"]


async def test_rollback_after_a_later_edit_is_refused_with_the_list(mirror: Mirror) -> None:
    remote = mirror.fake.put("clients", name="Asha Traders")
    run = await mirror.sync()
    [local] = await mirror.locals("clients")
    await mirror.crm.send(
        "PUT", f"clients/{local['id']}", mirror.crm.admin, version=local["version"], notes="later"
    )

    answer = await mirror.crm.send("POST", f"crm/runs/{run['id']}/rollback", mirror.crm.admin)

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "crm_rollback_refused"
    assert answer.json()["error"]["details"]["changed"] == [
        {"side": "local", "entity": "clients", "local_id": local["id"]}
    ]
    assert remote["id"] in mirror.fake.records["clients"]
