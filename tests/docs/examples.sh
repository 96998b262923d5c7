#!/usr/bin/env bash
# Every public item of tinystore-core has a doc example: rustdoc's `missing_doc_code_examples`
# lint, which is still unstable. The stable toolchain runs it with RUSTC_BOOTSTRAP=1 given to
# rustdoc alone (this script is cargo's RUSTDOC): set for the whole build, it would change the
# fingerprints of crates whose build scripts watch it (proc-macro2, syn …) and rebuild them.
#
# The stable rustdoc (1.95) also reports inherent `impl` blocks, which carry no docs of their
# own; newer ones do not. Those reports (an `impl` line, or a macro call that expands to one)
# are left out; every other report fails the check.
set -euo pipefail

if [ "${TINYSTORE_RUSTDOC_WRAPPED:-}" = 1 ]; then
  RUSTC_BOOTSTRAP=1 exec rustdoc "$@"
fi

cd "$(dirname "$0")/../.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
TINYSTORE_RUSTDOC_WRAPPED=1 RUSTDOC="$PWD/tests/docs/examples.sh" \
  RUSTDOCFLAGS="-Zunstable-options -Zcrate-attr=feature(rustdoc_missing_doc_code_examples) -W rustdoc::missing_doc_code_examples" \
  "${CARGO:-cargo}" doc --no-deps -p tinystore-core --all-features \
  >/dev/null 2>"$out" || { cat "$out" >&2; exit 1; }

missing=()
while IFS= read -r loc; do
  file=${loc%%:*}; rest=${loc#*:}; line=${rest%%:*}
  text=$(sed -n "${line}p" "$file")
  if [[ $text =~ ^[[:space:]]*impl[[:space:]\<] || $text =~ ^[a-z_]+![[:space:]]*\{$ ]]; then
    continue
  fi
  missing+=("$loc: ${text#"${text%%[![:space:]]*}"}")
done < <(grep -A1 "missing code example" "$out" | sed -n 's/^ *--> //p')

if [ ${#missing[@]} -gt 0 ]; then
  printf '%s\n' "${missing[@]}" >&2
  echo "doc examples: ${#missing[@]} public items of tinystore-core have no example (above)" >&2
  exit 1
fi
echo "doc examples: every public item of tinystore-core has one"
