"""Loading a script of docs/ as a module, for tests of its pieces."""

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).parents[1] / "docs"


@contextmanager
def doc_script(name: str) -> Iterator[ModuleType]:
    """``docs/<name>.py`` as a module while the context lasts."""
    with pytest.MonkeyPatch.context() as patch:
        # Scripts import demo_targets.py, which lies beside them.
        patch.syspath_prepend(str(DOCS))
        spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        # Their dataclasses look their module up by name.
        patch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        yield module
