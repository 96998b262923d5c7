"""Every public function and method of the package is exercised by some test."""

import inspect
import re
from pathlib import Path

import tinystore

TESTS = Path(__file__).resolve().parent


def test_every_public_name_is_used_by_a_test():
    text = "\n".join(p.read_text() for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name)
    used = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*\(", text)) | set(re.findall(r"\.([a-z_][a-z0-9_]*)\b", text))
    missing = []
    for name in tinystore.__all__:
        obj = getattr(tinystore, name)
        if inspect.isfunction(obj) and name not in used:
            missing.append(name)
        if inspect.isclass(obj) and obj.__module__ == "tinystore":
            for attr, member in vars(obj).items():
                # Nested classes (TinystoreError's subclasses) are names, not calls: the error
                # tests raise and catch each.
                if inspect.isclass(member):
                    continue
                if not attr.startswith("_") and (callable(member) or isinstance(member, property)) and attr not in used:
                    missing.append(f"{name}.{attr}")
    assert not missing, f"not exercised by any test: {missing}"
