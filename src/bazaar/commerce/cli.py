"""`bazaar commerce sandbox-gateway`: the shipped test-mode payment gateway, on 127.0.0.1."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from bazaar.commerce.payments.sandbox import create_sandbox
from bazaar.config import get_settings

app = typer.Typer(help="The shop: its sandbox payment gateway.", no_args_is_help=True)


@app.command("sandbox-gateway")
def sandbox_gateway(
    port: Annotated[int, typer.Option(help="Where to listen on 127.0.0.1")] = 8001,
) -> None:
    """Serve the sandbox gateway (test cards: docs/commerce.md#payments) until stopped."""
    key = get_settings().payment_gateway_api_key.get_secret_value()
    uvicorn.run(create_sandbox(key), host="127.0.0.1", port=port, log_level="warning")
