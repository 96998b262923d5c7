"""What can be checked of the Swift package without a Swift compiler (`make swift-check`).

1. The committed generated sources (Sources/TinyStore/TinyStore.swift and
   Sources/TinyStoreFFI/include/tinystoreFFI.{h,modulemap}) are what the pinned bindgen makes
   from the current library (no drift).
2. The FFI header compiles as C (gcc; Clang's nullability qualifiers defined away).
3. Every FFI symbol the Swift code calls is declared in the header and exported by
   libtinystore.so.
4. Every Swift file of the package (generated, idiomatic layer, tests, Package.swift) and of
   examples/swift parses
   with tree-sitter-swift (two constructs UniFFI emits that the grammar rejects are allowed).

Not checkable here: type-checking, Swift 6 concurrency diagnostics, running the XCTests, the
XCFramework build. Usage: python check.py <libtinystore.so> <uniffi-bindgen> [--bless]
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent.parent / "examples" / "swift"
GENERATED = {
    "TinyStore.swift": HERE / "Sources/TinyStore/TinyStore.swift",
    "tinystoreFFI.h": HERE / "Sources/TinyStoreFFI/include/tinystoreFFI.h",
    "tinystoreFFI.modulemap": HERE / "Sources/TinyStoreFFI/include/tinystoreFFI.modulemap",
}
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def main():
    lib, bindgen = sys.argv[1], sys.argv[2]
    bless = "--bless" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([bindgen, "generate", lib, "-l", "swift", "--no-format", "-o", tmp], check=True,
                       stdout=subprocess.DEVNULL)
        for name, committed in GENERATED.items():
            fresh = (Path(tmp) / name).read_text()
            if bless:
                committed.parent.mkdir(parents=True, exist_ok=True)
                committed.write_text(fresh)
            check(committed.exists() and committed.read_text() == fresh,
                  f"{committed.relative_to(HERE)} is up to date (else: make swift-bless)")

    header = GENERATED["tinystoreFFI.h"]
    r = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-D_Nonnull=", "-D_Nullable=",
                        "-fsyntax-only", "-x", "c", "-"], input=f'#include "{header}"\n', capture_output=True, text=True)
    check(r.returncode == 0, "tinystoreFFI.h compiles as C11 with gcc" + (f": {r.stderr[:500]}" if r.returncode else ""))

    pattern = re.compile(r"\b((?:uniffi|ffi)_tinystore_[A-Za-z0-9_]+)\b")
    used = set(pattern.findall(GENERATED["TinyStore.swift"].read_text()))
    declared = set(pattern.findall(header.read_text()))
    nm = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
    exported = {line.split()[-1] for line in nm.splitlines() if line.strip()}
    check(bool(used), f"the Swift code calls {len(used)} FFI functions")
    check(used <= declared, f"all are declared in the header ({len(declared)} declared); missing: {sorted(used - declared)[:5]}")
    check(declared <= exported, f"all declared ones are exported by {Path(lib).name}; missing: {sorted(declared - exported)[:5]}")

    import tree_sitter
    import tree_sitter_swift

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
    swift_files = [p for p in sorted(HERE.rglob("*.swift")) + sorted(EXAMPLE.rglob("*.swift")) if ".build" not in p.parts]
    for path in swift_files:
        src = path.read_text()
        # Known false positives of tree-sitter-swift 0.7.4 on UniFFI output.
        src = src.replace("@_documentation(visibility: private)", " " * len("@_documentation(visibility: private)"))
        data = src.encode()
        errors = []

        def walk(node):
            if node.type == "ERROR" or node.is_missing:
                snippet = data[node.start_byte:node.end_byte][:60].decode(errors="replace")
                if "{ () }" not in snippet and snippet.strip() != "()":
                    errors.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1} {snippet!r}")
            for child in node.children:
                walk(child)

        walk(parser.parse(data).root_node)
        check(not errors, f"{path.relative_to(HERE.parent.parent)} parses with tree-sitter-swift" + (f": {errors[:3]}" if errors else ""))

    total = 5 + len(GENERATED) + len(swift_files)
    print(f"swift-check: {total - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
