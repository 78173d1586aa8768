"""YAML configs validated into typed dataclasses, with ``--set a.b=value`` overrides.

The dataclasses hold the only copy of every default. A section whose dataclass
depends on a chosen component (``model.name: mobilenetv2``) declares the registry
to look the name up in through field metadata ``{"registry": <callable>}``; the
chosen component's options class then validates the rest of the block, so config
keys and builder options are the same words. A field typed ``Dict[str, ...]`` with
such metadata holds several components keyed by label (``attacks: {pgd_l2: {name:
pgd, norm: l2}}``): each block's ``name`` defaults to its label, ``false`` drops a
block, and ``--set attacks.pgd_l2.norm=linf`` reaches into one.

A config file may build on others: a top-level ``base:`` names a file, or a
list of files, relative to the directory of the file that names it. The bases
(with their own bases) are deep-merged in order and the file's own keys over
them: mappings merge key by key, any other value, a list included, replaces.
Several files given together apply the same way, each over the ones before.

A field may list deprecated spellings of its values in its metadata,
``{"aliases": {"infinity": "linf"}}``: a config that uses one is read as the
new spelling, with a warning in the log.

Errors are `ConfigError`s: one paragraph naming the file, the dotted key, the
value and what was expected; an unknown key comes with the nearest known one.
"""

import dataclasses
import difflib
import logging
import os
import sys
import typing
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

import yaml

from robustkit import outputs
from robustkit.errors import UserError

T = TypeVar("T")

BASE_KEY = "base"

log = logging.getLogger(__name__)


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
                kwargs[name] = self.value(hints[name], self.new_spelling(field, data[name], sub), sub)
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:
            self.fail(key, f"is invalid: {err}")

    def new_spelling(self, field: dataclasses.Field, value: Any, key: str) -> Any:
        """``value``, or its new spelling when the field's metadata lists it as a deprecated alias."""
        aliases = field.metadata.get("aliases", {})
        if isinstance(value, str) and value in aliases:
            log.warning("config %s: key '%s' has value %r, a deprecated spelling; write %r instead", self.source,
                        key, value, aliases[value])
            return aliases[value]
        return value

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
    """Reads one YAML mapping as written (``base:`` untouched), failing with the file name on any problem."""
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


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> Dict[str, Any]:
    """``over`` deep-merged onto ``base``: mappings merge key by key; any other value, a list too, replaces."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_config(path: str, _chain: Tuple[str, ...] = ()) -> Dict[str, Any]:
    """Reads a config file with its ``base:`` files merged under it, without the ``base`` key.

    Args:
      path: the YAML file.
      _chain: the files whose bases led here (to refuse a cycle).

    Raises:
      ConfigError: for a file that cannot be read, a ``base`` that is not a
        path or a list of paths, a base that does not exist, or a cycle of bases.
    """
    data = read_yaml(path)
    if BASE_KEY not in data:
        return data
    bases = data.pop(BASE_KEY)
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) and b for b in bases):
        raise ConfigError(f"config {path!r}: key '{BASE_KEY}' has value {bases!r}; expected a path or a list of "
                          "paths to YAML config files, relative to this file's directory")
    chain = (*_chain, path)
    merged: Dict[str, Any] = {}
    for base in bases:
        base_path = os.path.normpath(os.path.join(os.path.dirname(path), base))
        if not os.path.isfile(base_path):
            raise ConfigError(f"config {path!r}: key '{BASE_KEY}' names {base!r}, but {base_path!r} does not exist "
                              "(a base is found relative to the directory of the file that names it)")
        if any(os.path.samefile(base_path, p) for p in chain):
            cycle = " -> ".join(repr(p) for p in (*chain, base_path))
            raise ConfigError(f"config {path!r}: key '{BASE_KEY}' names {base!r}, which makes a cycle of bases "
                              f"({cycle}); a file cannot build on itself")
        merged = merge(merged, read_config(base_path, chain))
    return merge(merged, data)


Paths = Union[None, str, Sequence[str]]


def _paths(paths: Paths) -> List[str]:
    if not paths:
        return []
    return [paths] if isinstance(paths, str) else list(paths)


def read_configs(paths: Paths) -> Dict[str, Any]:
    """Reads config files (see `read_config`) and deep-merges them in order, later files over earlier ones."""
    data: Dict[str, Any] = {}
    for path in _paths(paths):
        data = merge(data, read_config(path))
    return data


def describe(paths: Paths) -> str:
    """How errors name the config files: ``'a.yaml'``, ``'a.yaml' + 'b.yaml'`` or ``(defaults)``."""
    return " + ".join(repr(p) for p in _paths(paths)) or "(defaults)"


def load(cls: Type[T], paths: Paths, overrides: Iterable[str] = ()) -> T:
    """Reads ``paths`` (one file, several merged in order, or none: all defaults), applies overrides, validates."""
    data = apply_overrides(read_configs(paths), overrides)
    return parse(cls, data, source=describe(paths))


def to_dict(config: Any) -> Dict[str, Any]:
    return dataclasses.asdict(config)


def save(config: Any, path: str, command: Optional[str] = None) -> None:
    """Writes the resolved config atomically as YAML headed by the command that ran it."""
    command = command or " ".join(["python -m"] + [os.path.basename(sys.argv[0])] + sys.argv[1:])
    text = f"# resolved config; produced by: {command}\n" + yaml.safe_dump(
        to_dict(config), sort_keys=False, default_flow_style=False
    )
    outputs.write_text(path, text)


def from_python(config: Any, sections: Mapping[str, Any]) -> Tuple[Dict[str, Any], str]:
    """The raw mapping of a config given in Python, and how errors name it.

    ``config`` is a YAML path (read with its bases), a mapping, a job object
    (turned back into its mapping, so it is validated again as a parsed one is)
    or None (all defaults); ``sections`` are deep-merged over it.
    """
    if config is None:
        data: Dict[str, Any] = {}
    elif isinstance(config, (str, os.PathLike)):
        data = read_config(os.fspath(config))
    elif isinstance(config, Mapping):
        data = dict(config)
    elif dataclasses.is_dataclass(config) and not isinstance(config, type):
        data = to_dict(config)
    else:
        raise TypeError(f"config must be a YAML path, a mapping or a job object, got {type(config).__name__}")
    source = repr(os.fspath(config)) if isinstance(config, (str, os.PathLike)) else "(Python)"
    return merge(data, dict(sections)), source
