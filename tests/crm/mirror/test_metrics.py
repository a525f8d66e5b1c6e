"""After a run started through the API, the app's `/metrics` counts what the run did:
records by entity and direction, and requests to the CRM by the status the CRM answered."""

from __future__ import annotations

from tests.crm.mirror.conftest import Mirror


async def test_metrics_count_the_records_and_calls_of_a_run(mirror: Mirror) -> None:
    for n in range(3):
        mirror.fake.put("clients", name=f"Remote {n}")
    await mirror.crm.client(mirror.crm.admin, name="Local client")
    await mirror.configure(entities=["clients"], max_retries=2)
    mirror.fake.behaviour.failures.append((503, {}))

    await mirror.sync()

    found = await mirror.metrics()
    records = "bazaar_crm_sync_records_total"
    assert found[(records, (("direction", "pull"), ("entity", "clients")))] == 3
    assert found[(records, (("direction", "push"), ("entity", "clients")))] == 1
    calls = {
        labels[0][1]: value
        for (name, labels), value in found.items()
        if name == "bazaar_crm_api_calls_total"
    }
    assert calls == {str(status): count for status, count in mirror.fake.statuses.items()}
    assert (calls["200"] > 0, calls["201"], calls["503"]) == (True, 1, 1)
    assert found[("bazaar_crm_api_retries_total", ())] == 1
