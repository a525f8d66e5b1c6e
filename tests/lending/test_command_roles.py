"""The roles `allowed_commands` offers each command to are the roles its route lets in."""

from __future__ import annotations

import csv
from pathlib import Path

from bazaar.auth.roles import Role
from bazaar.lending.rules import COMMAND_ROLES

MATRIX = Path(__file__).parent.parent / "auth" / "authz_matrix.csv"


def test_command_roles_agree_with_the_authorization_matrix() -> None:
    admitted: dict[str, set[Role]] = {}
    with MATRIX.open() as matrix:
        for row in csv.DictReader(matrix):
            path = row["path"]
            if row["method"] != "POST" or not path.startswith("/api/v1/loans/{loan_id}/"):
                continue
            command = path.rsplit("/", 1)[1]
            admitted.setdefault(command, set())
            refused = row["expected_status"] in ("401", "403")
            if row["role"] in Role._value2member_map_ and not refused:
                admitted[command].add(Role(row["role"]))

    assert {command.value: set(roles) for command, roles in COMMAND_ROLES.items()} == {
        command: roles
        for command, roles in admitted.items()
        if command in {c.value for c in COMMAND_ROLES}
    }
