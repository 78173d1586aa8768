import dataclasses
import os

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


def test_a_string_builder_is_imported_when_first_built():
    reg = Registry("widget")
    reg.register("join", "os.path:join", _Opts)
    assert reg.get("join").target == "os.path:join"
    assert reg.get("join").builder("a", "b") == os.path.join("a", "b")


def test_a_builder_string_must_name_module_and_attribute():
    reg = Registry("widget")
    for bad in ("os.path", ":join", "os.path:"):
        with pytest.raises(ValueError, match="must be 'module:attribute'"):
            reg.register("join", bad, _Opts)


def _registries():
    from robustkit.attacks import ATTACKS
    from robustkit.data import DATASETS, PAIR_SOURCES
    from robustkit.explain.registry import EXPLAINERS
    from robustkit.generative.config import MODELS as GENERATIVE_MODELS
    from robustkit.models import MODELS

    return [ATTACKS, DATASETS, PAIR_SOURCES, EXPLAINERS, GENERATIVE_MODELS, MODELS]


@pytest.mark.parametrize("registry, name", [(r, n) for r in _registries() for n in r.names()],
                         ids=lambda v: getattr(v, "kind", v))
def test_every_registered_builder_resolves(registry, name):
    assert callable(registry.get(name).builder)
