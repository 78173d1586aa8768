"""A small registry: components chosen by name, each with a typed options class.

A builder is registered as a callable, or as a ``"module:attribute"`` string
imported when the component is first built. With strings, a registry and its
options classes load without the builders' modules (and their TensorFlow), so
configs validate without them.
"""

import dataclasses
import importlib
from typing import Any, Callable, Dict, List, Optional, Type, Union

Builder = Union[Callable[..., Any], str]


def resolve(target: str) -> Any:
    """Imports ``"package.module:attribute"`` and returns the attribute."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class RegistryError(KeyError):
    """An unknown component name."""

    def __str__(self) -> str:  # KeyError would quote the message.
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered component.

    Attributes:
      name: the key a config uses to choose it.
      target: the builder, or where to import it from (``"module:attribute"``).
      options: the dataclass holding its configurable values and their defaults.
    """

    name: str
    target: Builder
    options: Optional[Type[Any]] = None

    @property
    def builder(self) -> Callable[..., Any]:
        """The builder, called as ``builder(options, **extra)``; a string target is imported here."""
        return resolve(self.target) if isinstance(self.target, str) else self.target


class Registry:
    """Maps names to builders; unknown names fail listing the known ones."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Entry] = {}

    def register(self, name: str, builder: Builder, options: Optional[Type[Any]] = None) -> None:
        """Adds ``name``; ``builder`` is a callable or a ``"module:attribute"`` string."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if options is not None and not dataclasses.is_dataclass(options):
            raise TypeError(f"options for {self.kind} {name!r} must be a dataclass, got {options!r}")
        if isinstance(builder, str):
            module, _, attribute = builder.partition(":")
            if not module or not attribute:
                raise ValueError(f"builder of {self.kind} {name!r} must be 'module:attribute', got {builder!r}")
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
