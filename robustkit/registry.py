"""A small registry: components chosen by name, each with a typed options class."""

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Type


class RegistryError(KeyError):
    """An unknown component name."""

    def __str__(self) -> str:  # KeyError would quote the message.
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered component.

    Attributes:
      name: the key a config uses to choose it.
      builder: called as ``builder(options, **extra)``.
      options: the dataclass holding its configurable values and their defaults.
    """

    name: str
    builder: Callable[..., Any]
    options: Optional[Type[Any]] = None


class Registry:
    """Maps names to builders; unknown names fail listing the known ones."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Entry] = {}

    def register(self, name: str, builder: Callable[..., Any], options: Optional[Type[Any]] = None) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if options is not None and not dataclasses.is_dataclass(options):
            raise TypeError(f"options for {self.kind} {name!r} must be a dataclass, got {options!r}")
        self._entries[name] = Entry(name, builder, options)

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(
                f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.names())}"
            ) from None

    def options(self, name: str) -> Type[Any]:
        entry = self.get(name)
        if entry.options is None:
            raise TypeError(f"{self.kind} {name!r} has no options class")
        return entry.options

    def build(self, options: Any, **extra: Any) -> Any:
        """Builds the component named by ``options.name`` from its options."""
        return self.get(options.name).builder(options, **extra)

    def names(self) -> List[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
