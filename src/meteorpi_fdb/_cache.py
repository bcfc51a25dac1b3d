"""A small thread-safe LRU cache of model objects, handing out copies so callers may mutate them."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, NamedTuple


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    currsize: int


_MISSING = object()


class EntityCache:
    """Least-recently-used cache; ``None`` results are not cached (the entity may appear later)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._generation = 0

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The cached value for ``key``, loading (outside the lock) and caching it on a miss."""
        with self._lock:
            value = self._entries.get(key, _MISSING)
            if value is not _MISSING:
                self._entries.move_to_end(key)
                self._hits += 1
                return copy.deepcopy(value)
            self._misses += 1
            generation = self._generation
        value = load()
        if value is not None:
            with self._lock:
                # A clear() while we were loading means our value may already be stale.
                if generation == self._generation:
                    self._entries[key] = copy.deepcopy(value)
                    while len(self._entries) > self.maxsize:
                        self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, self.maxsize, len(self._entries))
