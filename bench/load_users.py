"""The Locust users of `bench.run load`: each an officer of its own, with its token and loans
(the JSON file named by BENCH_LOAD_USERS), reading 80 % of the time (a loan, the loan list, a
schedule, the dashboard) and recording a payment 20 % of the time, with no pause between
requests.

The list and payment paths keep their trailing slash: the commit the load is compared with
served only that spelling, and today's serves both.
"""

from __future__ import annotations

import itertools
import os
import random
from datetime import UTC, datetime
from pathlib import Path

import orjson
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

_PEOPLE = itertools.cycle(orjson.loads(Path(os.environ["BENCH_LOAD_USERS"]).read_bytes()))


class Officer(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        person = next(_PEOPLE)
        self.loans: list[str] = person["loans"]
        self.auth = {"Authorization": f"Bearer {person['token']}"}
        self.paying = {**self.auth, "Content-Type": "application/json"}

    def _loan(self) -> str:
        return random.choice(self.loans)

    @task(20)
    def loan(self) -> None:
        self.client.get(f"/api/v1/loans/{self._loan()}", headers=self.auth, name="loan")

    @task(20)
    def loan_list(self) -> None:
        self.client.get("/api/v1/loans/?limit=20", headers=self.auth, name="list")

    @task(20)
    def schedule(self) -> None:
        path = f"/api/v1/loans/{self._loan()}/schedule"
        self.client.get(path, headers=self.auth, name="schedule")

    @task(20)
    def dashboard(self) -> None:
        self.client.get("/api/v1/dashboard/stats", headers=self.auth, name="dashboard")

    @task(20)
    def payment(self) -> None:
        body = {
            "loan_id": self._loan(),
            "amount": "1.00",
            "paid_on": datetime.now(UTC).date().isoformat(),
            "method": "cash",
        }
        payload = orjson.dumps(body).decode()
        self.client.post("/api/v1/payments/", data=payload, headers=self.paying, name="payment")
