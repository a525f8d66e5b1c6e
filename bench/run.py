"""`make bench`: every capability's benchmark. `--smoke` runs each for about a second (CI)."""

from __future__ import annotations

import argparse
import importlib

from bench.harness import hint_if_no_wrk

CAPABILITIES = [
    "core",
    "auth",
    "lending",
    "commerce",
    "checkout",
    "request_cost",
    "workers",
    "load",
    "realtime",
    "sync",
    "crm",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes (CI)")
    parser.add_argument("only", nargs="*", help=f"some of: {', '.join(CAPABILITIES)}")
    args = parser.parse_args()
    hint_if_no_wrk()
    for name in args.only or CAPABILITIES:
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").run(args.smoke)


if __name__ == "__main__":
    main()
