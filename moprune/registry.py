"""Explicit, name-keyed registries (models, datasets, solvers, knee selectors, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from moprune.errors import UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from lowercase names to objects, filled by explicit registration.

    Args:
        kind: What the registry holds, used in error messages ("model", "dataset").

    Example:
        >>> models = Registry("model")
        >>> @models.register("tiny")
        ... def tiny(): ...
        >>> models.get("TINY") is tiny
        True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its argument under ``name``.

        Raises:
            ValueError: if ``name`` is already registered.
        """
        key = name.lower()

        def decorator(obj: T) -> T:
            if key in self._items:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._items[key] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        """Return the object registered under ``name`` (case-insensitive).

        Raises:
            UnknownNameError: naming the unknown value and listing the known names.
        """
        try:
            return self._items[name.lower()]
        except KeyError:
            known = ", ".join(self.names())
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def name_of(self, obj: object) -> str:
        """The name ``obj`` is registered under.

        Raises:
            UnknownNameError: when ``obj`` is not registered.
        """
        for key, value in self._items.items():
            if value is obj:
                return key
        raise UnknownNameError(f"{obj!r} is not a registered {self.kind}")

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a plug-in's tests register and remove their own)."""
        self._items.pop(name.lower(), None)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
