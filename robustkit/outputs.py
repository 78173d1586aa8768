"""Atomic writes: every output appears whole or not at all."""

import contextlib
import json
import os
import shutil
import tempfile
from typing import Any, Iterator


def _tmp_sibling(path: str) -> str:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)


def write_bytes(path: str, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path``, then renames it."""
    tmp_dir = _tmp_sibling(path)
    tmp = os.path.join(tmp_dir, "part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


@contextlib.contextmanager
def atomic_dir(path: str, overwrite: bool = False) -> Iterator[str]:
    """Yields a temporary directory that becomes ``path`` when the block succeeds.

    On an exception the temporary directory is removed and ``path`` is untouched.
    An existing ``path`` is an error unless ``overwrite`` is set, in which case it
    is replaced only after the new one is complete.
    """
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; refusing to overwrite it")
    tmp = _tmp_sibling(path)
    try:
        yield tmp
        if os.path.exists(path):
            old = tmp + ".old"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def next_version_dir(base: str) -> str:
    """The next numbered version under ``base`` (TensorFlow Serving's layout)."""
    versions = [int(n) for n in os.listdir(base) if n.isdigit()] if os.path.isdir(base) else []
    return os.path.join(base, str(max(versions, default=0) + 1))
