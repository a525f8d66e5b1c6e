"""Core: Bazaar's /health through the full middleware stack, next to a bare ASGI app and a
bare FastAPI app, so the cost of the framework and of our stack show separately."""

from __future__ import annotations

from bench.harness import bazaar_server, load, report, uvicorn_server


def run(smoke: bool) -> None:
    seconds = 1.0 if smoke else 10.0
    with uvicorn_server("bench.baseline_asgi:app") as base_url:
        baseline = load(f"{base_url}/health", seconds=seconds)
    report("bare ASGI baseline GET /health", baseline)
    with uvicorn_server("bench.baseline_fastapi:app") as fastapi_url:
        framework = load(f"{fastapi_url}/health", seconds=seconds)
    report("bare FastAPI GET /health", framework, baseline)
    with bazaar_server() as url:
        health = load(f"{url}/health", seconds=seconds)
    report("bazaar GET /health (vs bare ASGI)", health, baseline)
    report("bazaar GET /health (vs bare FastAPI)", health, framework)
