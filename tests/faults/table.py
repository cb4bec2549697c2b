"""Print the fault-suite rows collected in .faults-results.jsonl as a Markdown table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = (
    "scenario",
    "backend",
    "seed",
    "acked",
    "completed",
    "failed",
    "lost",
    "dup_exec",
    "fault_reruns",
    "stale_overwrites",
    "max_concurrency_per_fp",
    "recover_s_p50",
    "recover_s_max",
    "duration_s",
    "notes",
    "verdict",
)


def main(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        notes = ", ".join(f"{k}={v}" for k, v in row["notes"].items())
        print("| " + " | ".join(str(notes if c == "notes" else row[c]) for c in COLUMNS) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".faults-results.jsonl"))
