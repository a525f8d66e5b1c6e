from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bazaar.sync.hlc import HLC
from bazaar.sync.policies import FieldConflict, Policy, Resolution, resolve

FIELDS = ("name", "phone", "address")
T1, T2 = HLC(1_000, 0, "hub"), HLC(2_000, 0, "laptop")


def _resolve(
    policy: Policy, *, base: dict[str, Any], server: dict[str, Any], client: dict[str, Any]
) -> Resolution:
    return resolve(
        policies={},
        default=policy,
        base=base,
        server=server,
        client=client,
        server_hlcs={name: T1 for name in server},
        client_hlc=T2,
    )


BASE = {"name": "Asha", "phone": "111", "address": "Pune"}


def test_fields_changed_on_one_side_only_merge_cleanly_under_every_three_way_policy() -> None:
    server = {**BASE, "phone": "222"}
    for policy in (Policy.SERVER_WINS, Policy.CLIENT_WINS, Policy.MERGE):
        result = _resolve(policy, base=BASE, server=server, client={"address": "Mumbai"})
        assert result.apply == {"address": "Mumbai"}
        assert result.conflicts == {}


def test_same_field_changed_on_both_sides_follows_the_policy() -> None:
    server = {**BASE, "phone": "222"}
    client = {"phone": "333"}
    assert _resolve(Policy.SERVER_WINS, base=BASE, server=server, client=client).apply == {}
    assert _resolve(Policy.CLIENT_WINS, base=BASE, server=server, client=client).apply == {
        "phone": "333"
    }
    assert _resolve(Policy.LATEST_TIMESTAMP, base=BASE, server=server, client=client).apply == {
        "phone": "333"
    }
    merged = _resolve(Policy.MERGE, base=BASE, server=server, client=client)
    assert merged.apply == {}
    assert merged.conflicts == {"phone": FieldConflict(base="111", server="222", client="333")}


def test_manual_parks_any_change_made_against_a_row_that_moved_meanwhile() -> None:
    server = {**BASE, "name": "Asha K"}
    result = _resolve(Policy.MANUAL, base=BASE, server=server, client={"address": "Mumbai"})
    assert result.apply == {}
    assert result.conflicts == {
        "address": FieldConflict(base="Pune", server="Pune", client="Mumbai")
    }
    fresh = _resolve(Policy.MANUAL, base=BASE, server=BASE, client={"address": "Mumbai"})
    assert (fresh.apply, fresh.conflicts) == ({"address": "Mumbai"}, {})


def test_latest_timestamp_keeps_a_newer_server_write() -> None:
    result = resolve(
        policies={},
        default=Policy.LATEST_TIMESTAMP,
        base=BASE,
        server={**BASE, "phone": "222"},
        client={"phone": "333"},
        server_hlcs={"phone": HLC(2_000, 0, "m")},
        client_hlc=HLC(2_000, 0, "laptop"),
    )
    assert result.apply == {}


def test_policies_are_chosen_per_field() -> None:
    server = {**BASE, "phone": "222", "address": "Delhi"}
    result = resolve(
        policies={"phone": Policy.SERVER_WINS},
        default=Policy.CLIENT_WINS,
        base=BASE,
        server=server,
        client={"phone": "333", "address": "Mumbai"},
        server_hlcs={},
        client_hlc=T2,
    )
    assert result.apply == {"address": "Mumbai"}


@dataclass
class Replica:
    """One copy of a record under latest_timestamp, applying changes as the hub does."""

    values: dict[str, Any] = field(default_factory=dict)
    hlcs: dict[str, HLC] = field(default_factory=dict)

    def apply(self, change: tuple[HLC, dict[str, Any], dict[str, Any]]) -> None:
        stamp, base, values = change
        result = resolve(
            policies={},
            default=Policy.LATEST_TIMESTAMP,
            base=base,
            server=self.values,
            client=values,
            server_hlcs=self.hlcs,
            client_hlc=stamp,
        )
        self.values.update(result.apply)
        self.hlcs.update(dict.fromkeys(result.apply, stamp))


VALUES = st.dictionaries(st.sampled_from(FIELDS), st.integers(0, 3), min_size=1)
CHANGES = st.lists(
    st.tuples(
        st.builds(HLC, st.integers(0, 20), st.integers(0, 3), st.sampled_from(["a", "b", "hub"])),
        VALUES,
        VALUES,
    ),
    max_size=12,
    unique_by=lambda change: change[0],
)


@given(changes=CHANGES, data=st.data())
def test_latest_timestamp_converges_whatever_the_delivery_order(
    changes: list[tuple[HLC, dict[str, Any], dict[str, Any]]], data: st.DataObject
) -> None:
    first, second = Replica(), Replica()
    for change in changes:
        first.apply(change)
    # The second replica sees a shuffled order with some deliveries duplicated.
    redelivered = data.draw(st.lists(st.sampled_from(changes), max_size=5)) if changes else []
    for change in data.draw(st.permutations(changes + redelivered)):
        second.apply(change)
    assert first.values == second.values
    for name, value in first.values.items():
        writes = [(stamp, values[name]) for stamp, _, values in changes if name in values]
        assert value == max(writes)[1]


@given(
    policy=st.sampled_from(list(Policy)),
    base=VALUES,
    server=VALUES,
    client=VALUES,
)
def test_resolution_is_deterministic_and_only_touches_fields_the_client_sent(
    policy: Policy, base: dict[str, Any], server: dict[str, Any], client: dict[str, Any]
) -> None:
    first = _resolve(policy, base=base, server=server, client=client)
    assert first == _resolve(policy, base=base, server=server, client=client)
    changed = {k for k, v in client.items() if server.get(k) != v}
    assert set(first.conflicts) <= changed
    if policy is not Policy.LATEST_TIMESTAMP:
        assert set(first.apply) <= changed
    assert not set(first.apply) & set(first.conflicts)
