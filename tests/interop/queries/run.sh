#!/bin/sh
# Regenerates expected.json from real TinyBase (the kit's node_modules).
set -e
KIT_MODULES=${KIT_MODULES:-$(cd "$(dirname "$0")/../../.." && pwd)/target/kit/node_modules}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ln -s "$KIT_MODULES" "$dir/node_modules"
cp "$(dirname "$0")/scenarios.mjs" "$dir/"
node "$dir/scenarios.mjs" > "$(dirname "$0")/expected.json"
