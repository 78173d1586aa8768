import dataclasses

import pytest

from robustkit.registry import Registry, RegistryError


@dataclasses.dataclass
class _Opts:
    name: str = "double"
    factor: int = 2


def test_build_passes_options_and_extras():
    reg = Registry("widget")
    reg.register("double", lambda opts, x: opts.factor * x, _Opts)
    assert reg.build(_Opts(factor=3), x=5) == 15
    assert reg.names() == ["double"]
    assert "double" in reg and "triple" not in reg


def test_unknown_name_lists_known_ones():
    reg = Registry("widget")
    reg.register("b", lambda o: o, _Opts)
    reg.register("a", lambda o: o, _Opts)
    with pytest.raises(RegistryError, match="unknown widget 'c'; known widgets: a, b"):
        reg.get("c")


def test_duplicate_and_non_dataclass_options_are_refused():
    reg = Registry("widget")
    reg.register("a", lambda o: o, _Opts)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", lambda o: o, _Opts)
    with pytest.raises(TypeError, match="must be a dataclass"):
        reg.register("b", lambda o: o, dict)
