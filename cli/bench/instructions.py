#!/usr/bin/env python3
"""Instruction counts of W1-W3 under callgrind, compared with the stored figures.

Usage: python3 cli/bench/instructions.py [--tinystore target/release/tinystore]
                                         [--file cli/bench/instructions.json] [--runs N] [--update]

Each workload runs as `tinystore bench --child W1 --instructions` (fixed, reduced sizes) under
`valgrind --tool=callgrind --collect-atstart=no --toggle-collect=*bench::measured_section*`: only
the workload's timed section is counted, not start-up, set-up or checks. Instruction counts do
not depend on the machine's load, so a change of a few percent means the code changed (or the
compiler did), where the wall times of `make bench` vary by 25% on a shared machine.

Prints a table (stored, now, change) and a `REGRESSION: ...` line for each workload whose count
grew by more than --threshold percent (5); exits 0 either way (reported, not failed: a new
compiler moves the counts too). Exits non-zero when the counts cannot be taken (valgrind
missing and not installable, a child failing, an empty count). `--update` rewrites the stored
file with this run's counts.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

WORKLOADS = ["W1", "W2", "W3"]
# What `--instructions` runs (cli/src/bench.rs, `size_or_instructions`): recorded in the stored
# file so that a reader knows what the counts are of; changing a size means `--update`.
SIZES = {
    "W1": "fill 10k rows x 10 cells (one transaction)",
    "W2": "30k setCell transactions on 10k rows, a cell and a table listener",
    "W3": "100k random getCell on 10k rows",
}
TOGGLE = "*bench::measured_section*"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def fail(message):
    print(f"instructions: {message}", file=sys.stderr)
    sys.exit(2)


def ensure_valgrind():
    """valgrind's path, installing it with apt-get when missing and running as root."""
    found = shutil.which("valgrind")
    if found:
        return found
    print("instructions: valgrind is missing: installing it (apt-get install -y valgrind)", file=sys.stderr)
    if os.geteuid() != 0:
        fail("valgrind is missing and installing it needs root: run 'apt-get install -y valgrind' as root; "
             "the instruction counts were NOT checked")
    if not shutil.which("apt-get"):
        fail("valgrind is missing and there is no apt-get to install it: install valgrind by hand; "
             "the instruction counts were NOT checked")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "valgrind"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env)
        if subprocess.run(["apt-get", "install", "-y", "valgrind"], env=env).returncode != 0:
            fail("'apt-get install -y valgrind' failed (see above): the instruction counts were NOT checked")
    found = shutil.which("valgrind")
    if not found:
        fail("valgrind is still missing after apt-get install: the instruction counts were NOT checked")
    return found


def count(valgrind, tinystore, workload):
    """(instructions in the measured section, the child's `impl`, seconds under callgrind)."""
    with tempfile.TemporaryDirectory() as tmp:
        out_file = os.path.join(tmp, "callgrind.out")
        command = [valgrind, "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={TOGGLE}",
                   f"--callgrind-out-file={out_file}", tinystore, "bench", "--child", workload, "--instructions"]
        started = time.monotonic()
        proc = subprocess.run(command, env=dict(os.environ, BENCH_RUN="1"), capture_output=True, text=True)
        seconds = time.monotonic() - started
        if proc.returncode != 0 or not proc.stdout.strip():
            sys.stderr.write(proc.stderr[-4000:])
            fail(f"{workload} under callgrind failed (exit status {proc.returncode}): {' '.join(command)}")
        impl = json.loads(proc.stdout.splitlines()[0]).get("impl", "?")
        with open(out_file) as f:
            text = f.read()
    # Callgrind writes `summary:` (older) or `totals:` (newer) with the Ir total of what was
    # collected, i.e. of the toggled function and everything it called.
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    instructions = int(m.group(1)) if m else 0
    if instructions == 0:
        # The toggle matched nothing: measured_section was inlined or renamed, or symbols are
        # stripped. A zero would otherwise pass as a 100% improvement.
        fail(f"{workload}: callgrind counted no instructions in {TOGGLE}: is the function still "
             f"#[inline(never)] in cli/src/bench.rs, and the binary not stripped?")
    return instructions, impl, seconds


def version(command):
    try:
        return subprocess.run(command, capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tinystore", default=os.path.join(ROOT, "target", "release", "tinystore"))
    ap.add_argument("--file", default=os.path.join(HERE, "instructions.json"))
    ap.add_argument("--runs", type=int, default=1, help="runs of each workload (the table shows the last; "
                    "the spread is printed when > 1)")
    ap.add_argument("--threshold", type=float, default=5.0, help="percent of growth reported as a regression")
    ap.add_argument("--update", action="store_true", help="rewrite the stored file with this run's counts")
    args = ap.parse_args()

    if not os.access(args.tinystore, os.X_OK):
        fail(f"{args.tinystore} is not an executable: build it first (cargo build --release -p tinystore-cli)")
    valgrind = ensure_valgrind()

    stored = {}
    if os.path.exists(args.file):
        with open(args.file) as f:
            stored = json.load(f)
    elif not args.update:
        fail(f"{args.file} is missing: record the figures with --update")
    stored_counts = stored.get("instructions", {})

    now, impl, total_seconds = {}, "?", 0.0
    for workload in WORKLOADS:
        runs = []
        for _ in range(max(1, args.runs)):
            instructions, impl, seconds = count(valgrind, args.tinystore, workload)
            runs.append(instructions)
            total_seconds += seconds
        now[workload] = runs[-1]
        if len(runs) > 1:
            spread = (max(runs) - min(runs)) / min(runs) * 100
            print(f"{workload}: {len(runs)} runs {', '.join(f'{r:,}' for r in runs)} (spread {spread:.3f}%)")

    print(f"Instructions in the measured section (callgrind, {total_seconds:.1f} s; stored: "
          f"{os.path.relpath(args.file)}, "
          f"{stored.get('recorded', '-')}, {stored.get('rustc', '-')})")
    print(f"{'workload':<9} {'stored':>15} {'now':>15} {'change':>8}")
    regressions = []
    for workload in WORKLOADS:
        old, new = stored_counts.get(workload), now[workload]
        if old:
            change = (new - old) / old * 100
            print(f"{workload:<9} {old:>15,} {new:>15,} {change:>+7.2f}%")
            if change > args.threshold:
                regressions.append(f"REGRESSION: {workload} instructions {change:+.1f}% (stored {old}, now {new})")
        else:
            print(f"{workload:<9} {'-':>15} {new:>15,} {'':>8}")
    if stored.get("impl") and stored["impl"] != impl:
        print(f"note: the stored counts are of {stored['impl']}, this binary is {impl}: "
              f"a compiler change moves the counts too")
    for line in regressions:
        print(line)
    if not regressions and stored_counts:
        print(f"instructions: no workload grew by more than {args.threshold:g}%")

    if args.update:
        record = {
            "about": "Instructions in tinystore bench's measured section of W1-W3 at the --instructions sizes, "
                     "counted by cli/bench/instructions.py under callgrind (make bench-quick compares with "
                     "these; rewrite with: python3 cli/bench/instructions.py --update)",
            "recorded": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
            "impl": impl,
            "rustc": version(["rustc", "--version"]),
            "valgrind": version([valgrind, "--version"]),
            "sizes": SIZES,
            "instructions": now,
        }
        with open(args.file, "w") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
        print(f"instructions: wrote {args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
