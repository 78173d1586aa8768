"""YAML configs validated into typed dataclasses, with ``--set a.b=value`` overrides.

The dataclasses hold the only copy of every default. A section whose dataclass
depends on a chosen component (``model.name: mobilenetv2``) declares the registry
to look the name up in through field metadata ``{"registry": <callable>}``; the
chosen component's options class then validates the rest of the block, so config
keys and builder options are the same words. A field typed ``Dict[str, ...]`` with
such metadata holds several components keyed by label (``attacks: {pgd_l2: {name:
pgd, norm: l2}}``): each block's ``name`` defaults to its label, ``false`` drops a
block, and ``--set attacks.pgd_l2.norm=linf`` reaches into one.

Errors are `ConfigError`s: one paragraph naming the file, the dotted key, the
value and what was expected; an unknown key comes with the nearest known one.
"""

import dataclasses
import difflib
import os
import sys
import typing
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Type, TypeVar

import yaml

from robustkit import outputs
from robustkit.errors import UserError

T = TypeVar("T")


class ConfigError(UserError, ValueError):
    """A config file or override that does not fit the schema."""


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:
        names = [_type_name(a) for a in args if a is not type(None)]
        joined = " or ".join(names)
        return f"{joined} or null" if type(None) in args else joined
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, List):
        return f"a list of {_type_name(args[0])}"
    if origin in (dict, Dict):
        return f"a mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


class _Parser:
    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str) -> "typing.NoReturn":
        where = f"key '{key}'" if key else "the top level"
        raise ConfigError(f"config {self.source}: {where} {message}")

    def value(self, tp: Any, value: Any, key: str) -> Any:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if tp is Any:
            return value
        if origin is typing.Union:
            if value is None and type(None) in args:
                return None
            inner = [a for a in args if a is not type(None)]
            if len(inner) == 1:
                if value is None:
                    self.fail(key, f"is null; expected {_type_name(tp)}")
                scalar = inner[0] in (bool, int, float, str) or typing.get_origin(inner[0]) is typing.Literal
                try:
                    return self.value(inner[0], value, key)
                except ConfigError:
                    if not scalar:
                        raise
                    self.fail(key, f"has value {value!r}; expected {_type_name(tp)}")
            for candidate in inner:
                try:
                    return self.value(candidate, value, key)
                except ConfigError:
                    continue
            self.fail(key, f"has value {value!r}; expected {_type_name(tp)}")
        if origin is typing.Literal:
            if value not in args:
                close = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                if isinstance(value, bool) and all(isinstance(a, str) for a in args):
                    hint = " (YAML reads unquoted on, off, yes and no as booleans; quote the word)"
                self.fail(key, f"has value {value!r}; expected {_type_name(tp)}{hint}")
            return value
        if origin in (list, List, tuple, Tuple):
            if not isinstance(value, (list, tuple)):
                self.fail(key, f"has value {value!r}; expected {_type_name(tp)}")
            return [self.value(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
        if origin in (dict, Dict):
            if not isinstance(value, Mapping):
                self.fail(key, f"has value {value!r}; expected {_type_name(tp)}")
            return {self.value(args[0], k, key): self.value(args[1], v, f"{key}.{k}") for k, v in value.items()}
        if dataclasses.is_dataclass(tp):
            return self.dataclass(tp, value, key)
        if tp is bool:
            if not isinstance(value, bool):
                self.fail(key, f"has value {value!r}; expected a boolean (true or false)")
            return value
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(key, f"has value {value!r}; expected an integer")
            return value
        if tp is float:
            if isinstance(value, bool):
                self.fail(key, f"has value {value!r}; expected a number")
            if isinstance(value, (int, float)):
                return float(value)
            if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string.
                try:
                    return float(value)
                except ValueError:
                    pass
            self.fail(key, f"has value {value!r}; expected a number")
        if tp is str:
            if not isinstance(value, str):
                self.fail(key, f"has value {value!r}; expected a string")
            return value
        raise TypeError(f"unsupported config type {tp!r} at {key}")

    def dataclass(self, cls: Type[T], data: Any, key: str) -> T:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.fail(key, f"has value {data!r}; expected a mapping of keys to values")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        prefix = f"{key}." if key else ""
        for name in data:
            if name not in fields:
                close = difflib.get_close_matches(str(name), list(fields), n=1, cutoff=0.6)
                hint = f"; did you mean '{prefix}{close[0]}'?" if close else ""
                known = ", ".join(fields)
                self.fail(f"{prefix}{name}", f"is not a known key{hint} Known keys here: {known}.")
        kwargs = {}
        for name, field in fields.items():
            sub = f"{prefix}{name}"
            registry = field.metadata.get("registry")
            if registry is not None and typing.get_origin(hints[name]) in (dict, Dict):
                if name in data:
                    kwargs[name] = self.choices(registry(), data[name], sub)
            elif registry is not None:
                kwargs[name] = self.choice(field, registry(), data.get(name), sub)
            elif name in data:
                kwargs[name] = self.value(hints[name], data[name], sub)
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:
            self.fail(key, f"is invalid: {err}")

    def choice(self, field: Optional[dataclasses.Field], registry: Any, data: Any, key: str,
               default: Optional[str] = None) -> Any:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.fail(key, f"has value {data!r}; expected a mapping with a 'name' key")
        if "name" in data:
            name = data["name"]
        elif default is not None:
            name = default
        else:
            name = field.default_factory().name  # type: ignore[union-attr,misc]
        if name not in registry:
            close = difflib.get_close_matches(str(name), registry.names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.fail(f"{key}.name", f"has value {name!r}; expected one of {', '.join(registry.names())}{hint}")
        return self.dataclass(registry.options(name), {**data, "name": name}, key)

    def choices(self, registry: Any, data: Any, key: str) -> Dict[str, Any]:
        """A mapping of labels to components; a block's ``name`` defaults to its label, ``false`` drops it."""
        if not isinstance(data, Mapping):
            self.fail(key, f"has value {data!r}; expected a mapping of labels to blocks, each naming a component")
        return {
            str(label): self.choice(None, registry, block, f"{key}.{label}", default=str(label))
            for label, block in data.items()
            if block is not False
        }


def parse(cls: Type[T], data: Any, source: str = "<dict>") -> T:
    """Validates a plain mapping into the dataclass ``cls``."""
    config = _Parser(source).dataclass(cls, data, "")
    resolve = getattr(config, "resolve", None)
    if resolve is None:
        return config
    try:
        return resolve()
    except ValueError as err:  # Checks that span sections.
        raise ConfigError(f"config {source}: {err}") from None


def apply_overrides(data: Dict[str, Any], overrides: Iterable[str], source: str = "--set") -> Dict[str, Any]:
    """Applies ``a.b=value`` strings to a raw config mapping; values are read as YAML."""
    data = dict(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"{source} {item!r}: expected KEY=VALUE, for example train.epochs=3")
        dotted, raw = item.split("=", 1)
        parts = dotted.strip().split(".")
        if not all(parts):
            raise ConfigError(f"{source} {item!r}: {dotted!r} is not a dotted key like train.epochs")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"{source} {item!r}: the value is not valid YAML ({err})") from None
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, Mapping):
                raise ConfigError(
                    f"{source} {item!r}: '{'.'.join(parts[:depth + 1])}' holds {child!r}, not a section"
                )
            node[part] = child = dict(child)
            node = child
        node[parts[-1]] = value
    return data


def read_yaml(path: str) -> Dict[str, Any]:
    """Reads a YAML mapping, failing with the file name on any problem."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist (pass --config with a YAML file from configs/)")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path!r} is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path!r} must hold a mapping of sections, got {type(data).__name__}")
    return dict(data)


def load(cls: Type[T], path: Optional[str], overrides: Iterable[str] = ()) -> T:
    """Reads ``path`` (or nothing: all defaults), applies overrides, validates."""
    data = read_yaml(path) if path else {}
    data = apply_overrides(data, overrides)
    return parse(cls, data, source=repr(path) if path else "(defaults)")


def to_dict(config: Any) -> Dict[str, Any]:
    return dataclasses.asdict(config)


def save(config: Any, path: str, command: Optional[str] = None) -> None:
    """Writes the resolved config atomically as YAML headed by the command that ran it."""
    command = command or " ".join(["python -m"] + [os.path.basename(sys.argv[0])] + sys.argv[1:])
    text = f"# resolved config; produced by: {command}\n" + yaml.safe_dump(
        to_dict(config), sort_keys=False, default_flow_style=False
    )
    outputs.write_text(path, text)
