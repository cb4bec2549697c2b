"""A process that enqueues one `join` fingerprint inside its own transactions, some rolled back.

python -m tests.faults.transactional_enqueuer URL COUNT SEED OUT
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import psycopg

from tests.faults import probe
from underway import App
from underway.backends.postgres.connection import parse_postgres_url


def main(url: str, count: int, seed: int, out: Path) -> None:
    app = App(url, migrate=False)
    app.registry.update(probe.app.registry)
    rng = random.Random(seed)
    conninfo = parse_postgres_url(url).conninfo
    with out.open("w") as log:
        for n in range(count):
            with psycopg.connect(conninfo) as conn:
                handle = app.enqueue(
                    "probe_join", {"key": "k", "duration_ms": 30, "n": n}, connection=conn
                )
                committed = rng.random() >= 0.2
                if committed:
                    conn.commit()
                else:
                    conn.rollback()
            log.write(
                json.dumps({"id": handle.id, "joined": handle.joined, "committed": committed})
                + "\n"
            )
    app.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
