"""Figures the reliability tests produce, collected for docs/reliability.md."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_OUT = os.environ.get("BAHR_RELIABILITY_REPORT")


def record(name: str, **figures: Any) -> None:
    """Append one test's figures to the report file named by BAHR_RELIABILITY_REPORT."""
    if not _OUT:
        return
    with Path(_OUT).open("a", encoding="utf-8") as out:
        out.write(json.dumps({"test": name, **figures}, ensure_ascii=False, default=str) + "\n")
