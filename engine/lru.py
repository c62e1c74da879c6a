"""A small bounded least-recently-used map (not thread-safe: callers hold their own lock)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """Keeps at most ``max_items`` values and, if ``size`` is given, at most ``max_bytes`` in total.

    The newest value is always kept, even if it alone exceeds ``max_bytes``.
    """

    def __init__(self, max_items: int, max_bytes: int | None = None,
                 size: Callable[[V], int] | None = None) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.max_items, self.max_bytes, self._size = max_items, max_bytes, size
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def get(self, key: Hashable) -> V | None:
        """The value for ``key`` (now the most recent), or None."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value``, evicting the least recently used entries beyond the bounds."""
        if key in self._data:
            self._bytes -= self._nbytes(self._data.pop(key))
        self._data[key] = value
        self._bytes += self._nbytes(value)
        while len(self._data) > 1 and (len(self._data) > self.max_items or self._over_budget()):
            _, old = self._data.popitem(last=False)
            self._bytes -= self._nbytes(old)

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()
        self._bytes = 0

    def _nbytes(self, value: V) -> int:
        return self._size(value) if self._size is not None else 0

    def _over_budget(self) -> bool:
        return self.max_bytes is not None and self._bytes > self.max_bytes
