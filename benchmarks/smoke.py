"""XARCH_BENCH_QUICK=1 makes every benchmark a smoke run (tiny sizes, one round, nothing
judged or written unless asked): how docs/performance.md's commands run in the test suite."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

QUICK = os.environ.get("XARCH_BENCH_QUICK", "") not in ("", "0")


def save_results(results: Any, requested: Optional[Path], default: Path) -> None:
    """Write `results` as JSON to `requested` (else `default`); a smoke run writes only
    where asked."""
    if QUICK and requested is None:
        return
    path = requested or default
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {path}")
