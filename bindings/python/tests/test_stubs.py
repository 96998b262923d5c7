"""The type stubs match the package, and the package exposes what its docs promise."""

import subprocess
import sys
from pathlib import Path

import tinystore

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def test_stub_is_up_to_date():
    result = subprocess.run([sys.executable, str(TOOLS / "gen_stubs.py"), "--check"])
    assert result.returncode == 0, "python/tinystore/__init__.pyi is stale: run tools/gen_stubs.py"


def test_public_names_and_docstrings():
    for name in tinystore.__all__:
        obj = getattr(tinystore, name)
        assert obj.__doc__, f"{name} has no docstring"
        if isinstance(obj, type) and name not in ("TinystoreError", "Status", "ConnectionStatus"):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    assert member.__doc__, f"{name}.{attr} has no docstring"
    assert issubclass(tinystore.TinystoreError.Persist, tinystore.TinystoreError)
    assert issubclass(tinystore.TinystoreError, Exception)
