"""A stored traceback split into parts, so the job page can fold underway's own frames.

A job's traceback starts in the worker's machinery (underway's modules, and the standard
library's thread pool or event loop between them) before it reaches the user's code. Each
unbroken run of such frames that holds at least one of underway's becomes one folded part;
everything else is shown as it was written. The text is only read, never executed or imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PACKAGE = Path(__file__).resolve().parent.parent
#: `  File "path", line 12, in name` (also inside an exception group's `| ` margins).
FRAME = re.compile(r'^(?P<indent>[ |]*)File "(?P<path>[^"]+)", line \d+')
UNDERWAY_PATH = re.compile(r"[/\\]underway[/\\](?P<module>[\w/\\]+\.py)$")
STDLIB_PATH = re.compile(r"[/\\]lib[/\\]python3\.\d+[/\\](?!site-packages|dist-packages)")

PartKind = Literal["text", "user", "inside"]


@dataclass(frozen=True, slots=True)
class TracebackPart:
    """Lines of a traceback: plain text, the user's frames, or frames inside underway."""

    kind: PartKind
    text: str
    frames: int = 0
    with_stdlib: bool = False


def is_underway(path: str) -> bool:
    """A file of this package, wherever the worker that wrote the traceback had it installed."""
    found = UNDERWAY_PATH.search(path)
    return found is not None and (PACKAGE / found["module"].replace("\\", "/")).is_file()


def frame_kind(path: str) -> Literal["underway", "stdlib", "user"]:
    if is_underway(path):
        return "underway"
    return "stdlib" if STDLIB_PATH.search(path) else "user"


def split_frames(text: str) -> list[tuple[str | None, list[str]]]:
    """The traceback's lines in groups: a frame's (its kind first) or runs of plain lines."""
    groups: list[tuple[str | None, list[str]]] = []
    depth = -1
    for line in text.splitlines(keepends=True):
        frame = FRAME.match(line)
        if frame is not None:
            depth = len(frame["indent"])
            groups.append((frame_kind(frame["path"]), [line]))
        elif depth >= 0 and groups and len(line) - len(line.lstrip(" |")) > depth:
            groups[-1][1].append(line)  # the frame's source line and its ^^^ markers
        else:
            depth = -1
            if groups and groups[-1][0] is None:
                groups[-1][1].append(line)
            else:
                groups.append((None, [line]))
    return groups


def traceback_parts(text: str) -> list[TracebackPart]:
    """The parts to show: runs of underway and standard-library frames that hold one of
    underway's are folded into one part; the rest is kept in order."""
    parts: list[TracebackPart] = []
    run: list[tuple[str | None, list[str]]] = []

    def flush_run() -> None:
        if not run:
            return
        kinds = {kind for kind, _ in run}
        text = "".join("".join(lines) for _, lines in run)
        if "underway" in kinds:
            parts.append(TracebackPart("inside", text, len(run), "stdlib" in kinds))
        else:
            parts.append(TracebackPart("user", text, len(run)))
        run.clear()

    for kind, lines in split_frames(text):
        if kind in ("underway", "stdlib"):
            run.append((kind, lines))
            continue
        flush_run()
        if kind == "user" and parts and parts[-1].kind == "user":
            last = parts.pop()
            parts.append(TracebackPart("user", last.text + "".join(lines), last.frames + 1))
        else:
            parts.append(TracebackPart("user" if kind else "text", "".join(lines), int(bool(kind))))
    flush_run()
    return parts
