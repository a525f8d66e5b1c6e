"""The pure rules: every status has a way on, and the cycle check matches a brute-force walk."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from bazaar.crm import rules


def test_every_status_can_move_somewhere_and_never_to_itself() -> None:
    for moves in (rules.PROJECT_MOVES, rules.TASK_MOVES):
        for status, targets in moves.items():
            assert targets
            assert status not in targets


IDS = [uuid.UUID(int=n) for n in range(1, 9)]


def _ancestors(start: uuid.UUID, parents: dict[uuid.UUID, uuid.UUID | None]) -> set[uuid.UUID]:
    seen: set[uuid.UUID] = set()
    current = parents.get(start)
    while current is not None and current not in seen:
        seen.add(current)
        current = parents.get(current)
    return seen


@given(
    edges=st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(IDS)), max_size=8),
    task=st.sampled_from(IDS),
    parent=st.sampled_from(IDS),
)
def test_makes_cycle_is_true_exactly_when_the_task_would_be_its_own_ancestor(
    edges: list[tuple[uuid.UUID, uuid.UUID]], task: uuid.UUID, parent: uuid.UUID
) -> None:
    # A forest as stored (each child one parent, no loops), built by the same rule.
    parents: dict[uuid.UUID, uuid.UUID | None] = {}
    for child, above in edges:
        if child not in parents and not rules.makes_cycle(
            task_id=child, parent_id=above, parents=parents
        ):
            parents[child] = above

    expected = parent == task or task in _ancestors(parent, parents) | {parent}

    assert rules.makes_cycle(task_id=task, parent_id=parent, parents=parents) == expected
