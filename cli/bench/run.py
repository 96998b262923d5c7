#!/usr/bin/env python3
"""Runs the benchmark suite of issue 8 on this machine, in one go, interleaved by run.

For each run r = 1..N (each run of each workload in a fresh process):
  - for each standard workload W1 ... W8m: tinystore's `tinystore bench --child W`, then
    TinyBase's `node bench.mjs --child W` (../shared/perf/tinybase), back to back, so that
    the two see the same machine load;
  - tinystore's scaled-up variants (W4@100k ... W7@100k) and L5 at W7's shapes;
  - the derived-view workloads W9, W9@10k, W10, W10@10k, W11: tinystore's, then TinyBase's
    `node views.mjs --child W` (cli/bench/views.mjs, installed beside bench.mjs), back to back;
  - W12 (PostgreSQL) and W13 (app start-up): tinystore's, then TinyBase's script from the kit's
    folder (cli/bench/postgres.mjs, cli/bench/startup.mjs), back to back;
  - the CRDT peers (../shared/perf/peers): Yjs and Loro at TinyBase's scale (10k rows),
    Yjs at the large scale (100k rows; Loro needs ~5 min a run there, Automerge minutes at
    any scale: BASELINE's figures are used for those);
  - the Rust limits L1-L6 (../shared/perf/limits, built into target/perf/limits);
  - tinystore's server at scale, W14@1k and W14 (tinystore only).

Writes DIR/{tinystore,tinybase,peers,limits}.jsonl, DIR/meta.json (machine, versions, load
averages) and DIR/failures.txt; exits 1 if any run failed (its lines are not kept: a run whose
check fails prints nothing).

Usage: python3 cli/bench/run.py --out DIR [--runs 3] [--tinystore BIN] [--work target/perf]
                                [--only tinystore,tinybase,peers,limits] [--workloads W9,W11,...]
(--workloads: only these tinystore/TinyBase workloads, e.g. the derived views; peers and limits
run only when --workloads is not given.)
(`make perf-deps` puts the reference programs and their node_modules / build into --work.)
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

STANDARD = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8s", "W8m"]
SCALED = ["W4@100k", "W5@100k", "W6@100k", "W7@100k", "L5"]
VIEWS = ["W9", "W9@10k", "W10", "W10@10k", "W11"]
# PostgreSQL (a server from TINYSTORE_PG_URL or tests/postgres/pg.sh): W12 beside TinyBase's
# persister (cli/bench/postgres.mjs, run from the kit's folder, which has `postgres`), W12f
# (cross-process fan-out) tinystore only.
POSTGRES = ["W12", "W12f"]
# App start-up from a 100k×10 file (W13) beside TinyBase's persisters (cli/bench/startup.mjs,
# run from the kit's folder, which has better-sqlite3).
STARTUP = ["W13"]
# One `tinystore serve` at scale (1k and 10k WebSocket clients): tinystore only, TinyBase's
# createWsServer is not measured at this scale.
SERVER = ["W14@1k", "W14"]
PEERS = [("yjs", 10_000), ("loro", 10_000), ("yjs", 100_000)]
SUITES = ["tinystore", "tinybase", "peers", "limits"]


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


class Runner:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.failures = []
        self.files = {}

    def child(self, suite, label, cmd, run, cwd=None, fix_run=False, timeout=900):
        """Runs one fresh process; appends its JSON lines to DIR/<suite>.jsonl."""
        env = dict(os.environ, BENCH_RUN=str(run))
        # Every run starts with no dirty pages pending: otherwise a child that creates files
        # (W7) pays for the previous child's writeback (TinyBase's W7 runs right before).
        os.sync()
        started = time.monotonic()
        try:
            p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=timeout)
            code, stdout, stderr = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            code, stdout, stderr = "timeout", "", str(e)
        except OSError as e:
            code, stdout, stderr = "cannot start", "", str(e)
        lines = [l for l in stdout.splitlines() if l.startswith("{")]
        took = time.monotonic() - started
        if code != 0 or not lines:
            self.failures.append(f"{suite} {label} run {run}: exit {code}\n{stderr[-2000:]}")
            print(f"  {suite:9} {label:14} run {run}: FAILED ({code})", file=sys.stderr)
            if stderr:
                print("    " + stderr.strip()[-600:].replace("\n", "\n    "), file=sys.stderr)
            return
        if stderr.strip():
            # Warnings of a successful run (e.g. TinyBase's W6 handshake timeout) are kept.
            with open(os.path.join(self.out_dir, suite + ".stderr"), "a") as f:
                f.write(f"--- {label} run {run}\n{stderr}")
        f = self.files.setdefault(suite, open(os.path.join(self.out_dir, suite + ".jsonl"), "a"))
        for line in lines:
            if fix_run:
                record = json.loads(line)
                record["run"] = run
                line = json.dumps(record, separators=(",", ":"))
            f.write(line + "\n")
        f.flush()
        print(f"  {suite:9} {label:14} run {run}: {len(lines)} lines, {took:.1f} s", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tinystore", default="target/release/tinystore")
    ap.add_argument("--work", default="target/perf", help="where node_modules and the limits build are")
    ap.add_argument("--only", default=",".join(SUITES))
    ap.add_argument("--workloads", default=None,
                    help="comma-separated subset of " + ",".join(STANDARD + SCALED + VIEWS + POSTGRES + STARTUP + SERVER))
    args = ap.parse_args()
    only = set(args.only.split(","))
    chosen = None
    if args.workloads:
        chosen = [w for w in args.workloads.split(",") if w]
        unknown = [w for w in chosen if w not in STANDARD + SCALED + VIEWS + POSTGRES + STARTUP + SERVER]
        if unknown:
            ap.error(f"unknown workloads: {', '.join(unknown)}")
        only -= {"peers", "limits"}
    pick = lambda names: [w for w in names if chosen is None or w in chosen]
    os.makedirs(args.out, exist_ok=True)
    for suite in SUITES:
        for ext in (".jsonl", ".stderr"):
            path = os.path.join(args.out, suite + ext)
            if os.path.exists(path):
                os.remove(path)

    work = os.path.abspath(args.work)
    tinystore = os.path.abspath(args.tinystore)
    node = ["node", "--expose-gc", "--max-old-space-size=8192"]
    tinybase_dir = os.path.join(work, "tinybase")
    peers_dir = os.path.join(work, "peers")
    limits_bin = os.path.join(work, "limits", "target", "release", "tinystore-perf-limits")

    available = {
        "tinystore": os.path.exists(tinystore),
        # W12 and W13 run TinyBase from the kit's folder (make kit), the others from --work's.
        "tinybase": os.path.exists(os.path.join(tinybase_dir, "node_modules", "tinybase"))
        or (chosen is not None and all(w in POSTGRES + STARTUP for w in chosen)
            and os.path.exists(os.path.join(os.path.dirname(work), "kit", "node_modules", "tinybase"))),
        "peers": os.path.exists(os.path.join(peers_dir, "node_modules", "yjs")),
        "limits": os.path.exists(limits_bin),
    }
    meta = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "mem_gib": mem_gib(),
        "kernel": platform.release(),
        "node": version(["node", "--version"]),
        "rustc": version(["rustc", "--version"]),
        "sqlite3_cli": version(["sqlite3", "--version"]),
        "runs": args.runs,
        "workloads": chosen,
        "suites": sorted(s for s in only if available.get(s)),
        "unavailable": sorted(s for s in only if not available.get(s)),
        "loadavg_start": loadavg(),
    }
    print(f"bench suite: {args.runs} runs of {', '.join(meta['suites'])} -> {args.out}", file=sys.stderr)
    if meta["unavailable"]:
        print(f"  not available here (BASELINE figures will be used): {', '.join(meta['unavailable'])}",
              file=sys.stderr)

    if pick(POSTGRES) and not os.environ.get("TINYSTORE_PG_URL"):
        pg = subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "../../tests/postgres/pg.sh"), "start"],
                            capture_output=True, text=True)
        if pg.returncode == 0:
            os.environ["TINYSTORE_PG_URL"] = pg.stdout.strip().splitlines()[-1]
        else:
            print(f"  PostgreSQL could not be started: {pg.stderr.strip()[-400:]}", file=sys.stderr)
    r = Runner(args.out)
    started = time.monotonic()
    for run in range(1, args.runs + 1):
        for w in pick(STANDARD):
            if "tinystore" in meta["suites"]:
                r.child("tinystore", w, [tinystore, "bench", "--child", w], run)
            if "tinybase" in meta["suites"]:
                r.child("tinybase", w, node + ["bench.mjs", "--child", w], run, cwd=tinybase_dir)
        if "tinystore" in meta["suites"]:
            for w in pick(SCALED):
                r.child("tinystore", w, [tinystore, "bench", "--child", w], run)
        for w in pick(VIEWS):
            if "tinystore" in meta["suites"]:
                r.child("tinystore", w, [tinystore, "bench", "--child", w], run)
            if "tinybase" in meta["suites"]:
                if os.path.exists(os.path.join(tinybase_dir, "views.mjs")):
                    r.child("tinybase", w, node + ["views.mjs", "--child", w], run, cwd=tinybase_dir)
                elif run == 1:
                    r.failures.append(f"tinybase {w}: views.mjs missing in {tinybase_dir} (make perf-deps)")
        for w in pick(POSTGRES):
            if "tinystore" in meta["suites"]:
                r.child("tinystore", w, [tinystore, "bench", "--child", w], run)
            if "tinybase" in meta["suites"] and w == "W12":
                kit = os.path.join(os.path.dirname(work), "kit")
                # Beside the kit's node_modules (tinybase and postgres), freshly copied.
                here = os.path.dirname(__file__)
                shutil.copy(os.path.join(here, "postgres.mjs"), os.path.join(kit, "postgres-bench.mjs"))
                shutil.copy(os.path.join(here, "bench-common.mjs"), os.path.join(kit, "bench-common.mjs"))
                r.child("tinybase", w, node + ["postgres-bench.mjs", "--child", w], run, cwd=kit)
        for w in pick(STARTUP):
            if "tinystore" in meta["suites"]:
                r.child("tinystore", w, [tinystore, "bench", "--child", w], run)
            if "tinybase" in meta["suites"]:
                kit = os.path.join(os.path.dirname(work), "kit")
                here = os.path.dirname(__file__)
                shutil.copy(os.path.join(here, "startup.mjs"), os.path.join(kit, "startup-bench.mjs"))
                shutil.copy(os.path.join(here, "bench-common.mjs"), os.path.join(kit, "bench-common.mjs"))
                r.child("tinybase", w, node + ["startup-bench.mjs", "--child", w], run, cwd=kit)
        if "tinystore" in meta["suites"]:
            for w in pick(SERVER):
                r.child("tinystore", w, [tinystore, "bench", "--child", w], run)
        if "peers" in meta["suites"]:
            for engine, rows in PEERS:
                r.child("peers", f"{engine}@{rows}", node + ["bench.mjs", "--child", engine, str(rows)],
                        run, cwd=peers_dir)
        if "limits" in meta["suites"]:
            r.child("limits", "L1-L6", [limits_bin, "1"], run, fix_run=True)
    meta["loadavg_end"] = loadavg()
    meta["seconds"] = round(time.monotonic() - started, 1)
    meta["failures"] = len(r.failures)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(args.out, "failures.txt"), "w") as f:
        f.write("\n\n".join(r.failures))
    print(f"bench suite: {meta['seconds']} s, {len(r.failures)} failed runs", file=sys.stderr)
    sys.exit(1 if r.failures else 0)


if __name__ == "__main__":
    main()
