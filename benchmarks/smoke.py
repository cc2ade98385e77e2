"""XARCH_BENCH_QUICK=1 makes every benchmark a smoke run (tiny sizes, one round, nothing
judged or written unless asked): how docs/performance.md's commands run in the test suite."""

from __future__ import annotations

import os

QUICK = os.environ.get("XARCH_BENCH_QUICK", "") not in ("", "0")
