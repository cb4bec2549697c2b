"""The memory backend (`memory://`): the SQLite backend on an in-memory database, private to one
process, for tests and in-process use. `backend.MemoryBackend` is imported when one opens."""

from .databases import is_memory_url, pinned_url

__all__ = ["is_memory_url", "pinned_url"]
