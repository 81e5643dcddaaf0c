"""Import a module of scripts/ (not a package: its scripts run as `python scripts/<name>.py`)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.processes import REPO


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module, registered under its name so sibling imports resolve as they do when it runs."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
