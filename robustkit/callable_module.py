"""Modules that are also functions: ``robustkit.train(...)`` and ``robustkit.explain(...)``.

``robustkit.train`` is both the entry point's module (``python -m robustkit.train``)
and the function that trains from Python. Python binds a submodule as an attribute
of its package once it is imported, so a plain function of the same name in
``robustkit`` would be replaced by the module; the module is made callable instead.
"""

import importlib
import sys
import types


class CallableModule(types.ModuleType):
    """A module whose call runs ``<__call_target__ module>.<function>``, imported on the first call."""

    __call_target__ = ("", "")

    def __call__(self, *args, **kwargs):
        module, function = self.__call_target__
        return getattr(importlib.import_module(module), function)(*args, **kwargs)


def make_callable(name: str, module: str, function: str) -> None:
    """Makes the module ``name`` callable as ``module.function`` (imported lazily, so imports stay light)."""
    target = sys.modules[name]
    target.__class__ = CallableModule
    target.__call_target__ = (module, function)
