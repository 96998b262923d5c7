#!/usr/bin/env python3
"""Writes docs/benchmarks.md from a `cli/bench/run.py` result directory.

Usage: python3 cli/bench/report.py DIR [--perf ../shared/perf] [--notes cli/bench/notes.md]
                                       [--out docs/benchmarks.md]

Tables: every workload for tinystore and TinyBase (median seconds of the runs, [min-max]),
the ratio TinyBase / tinystore (ratio of the medians, [worst-best pairing of the extremes]),
the CRDT peers and the Rust limits from the same run, the scaled-up variants, memory per
cell, and each target of issue 8 checked (met / not met). Anything this run lacks (e.g. a
suite that could not run here, Automerge, Loro at 100k rows) comes from
../shared/perf/results/*.jsonl (BASELINE.md's run), marked with a dagger.

The analysis that follows the tables is cli/bench/notes.md, with {{...}} placeholders filled
from the same data (see `Report.placeholder`).
"""

import argparse
import json
import os
import re
import statistics
import sys
from collections import defaultdict

BASE = "BASELINE"  # source label of ../shared/perf/results

# Peers name two workloads differently (binary encode / decode + read back).
PEER_NAMES = {
    "W4b_encode_full_state": "W4b_get_mergeable_content_json",
    "W4c_decode_full_state_and_read": "W4c_parse_set_mergeable_content",
}


# The derived-view workloads (tinystore's `views.rs`, TinyBase's cli/bench/views.mjs): name,
# label, target id; and the deterministic figures both sides print, which must be equal.
VIEWS = [
    ("W9_index_upkeep", "W9 index upkeep, 100k rows, 100 slices, sorted", "W9"),
    ("W9_index_upkeep@10k", "W9 the same, 10k rows", "W9@10k"),
    ("W10_query_upkeep", "W10 query upkeep, 100k pets ⋈ 1k species, where, group sum", "W10"),
    ("W10_query_upkeep@10k", "W10 the same, 10k pets", "W10@10k"),
    ("W11_checkpoints", "W11 10k checkpoints, then 10k steps back", "W11"),
]
VIEW_FIGURES = ("rows", "listener_calls", "checksum", "result_rows", "total", "checkpoints")


def family(impl):
    for f in ("tinystore", "tinybase", "yjs", "loro", "automerge"):
        if impl.startswith(f):
            return f
    return "limit" if impl.startswith("rust-limit") else impl


def load(paths, source):
    """{(workload, family): [records]} with each record's source."""
    groups = defaultdict(list)
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                fam = family(r["impl"])
                w = PEER_NAMES.get(r["workload"], r["workload"])
                if fam in ("yjs", "loro", "automerge") and r.get("scale") == "large":
                    w += "@100k"
                r["_source"] = source
                groups[(w, fam)].append(r)
    return groups


class Stat:
    def __init__(self, records, key="seconds"):
        vals = sorted(r[key] for r in records if r.get(key) is not None)
        self.records = records
        self.n = len(vals)
        self.med = statistics.median(vals)
        self.lo, self.hi = vals[0], vals[-1]
        self.source = records[0]["_source"]
        self.impl = records[0]["impl"]
        self.ops = records[0]["ops"]

    @property
    def baseline(self):
        return self.source == BASE

    def extra(self, key):
        vals = [r[key] for r in self.records if key in r]
        return statistics.median(vals) if vals else None


def fmt_s(s):
    if s is None:
        return "—"
    if s >= 10:
        return f"{s:.1f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 0.1:
        return f"{s * 1000:.0f} ms"
    if s >= 0.01:
        return f"{s * 1000:.1f} ms"
    return f"{s * 1000:.2f} ms"


def fmt_x(x):
    if x >= 100:
        return f"{x:.0f}×"
    if x >= 10:
        return f"{x:.1f}×"
    return f"{x:.2f}×"


def dagger(st):
    return "†" if st.baseline else ""


def cell(st):
    if st is None:
        return "—"
    if st.n == 1:
        return f"{fmt_s(st.med)}{dagger(st)} (1 run)"
    return f"**{fmt_s(st.med)}** [{fmt_s(st.lo)}–{fmt_s(st.hi)}]{dagger(st)}"


class Report:
    def __init__(self, run_dir, perf):
        self.run_dir = run_dir
        self.meta = {}
        meta_path = os.path.join(run_dir, "meta.json")
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                self.meta = json.load(f)
        names = ("tinystore", "tinybase", "peers", "limits")
        self.now = load([os.path.join(run_dir, n + ".jsonl") for n in names], "this run")
        self.base = load([os.path.join(perf, "results", n + ".jsonl") for n in ("tinybase", "peers", "limits")],
                         BASE)

    def stat(self, workload, fam, key="seconds", baseline_ok=True):
        recs = self.now.get((workload, fam))
        if not recs and baseline_ok:
            recs = self.base.get((workload, fam))
        if not recs or not any(r.get(key) is not None for r in recs):
            return None
        return Stat(recs, key)

    def ts(self, w, key="seconds"):
        return self.stat(w, "tinystore", key, baseline_ok=False)

    def ratio(self, w, other="tinybase", key="seconds", w_other=None, per_op=False):
        """(median ratio, lo, hi) of other / tinystore (time ratio: > 1 = tinystore faster)."""
        a = self.ts(w, key)
        b = self.stat(w_other or w, other, key)
        if a is None or b is None:
            return None
        scale = (a.ops / b.ops) if per_op else 1.0
        return (b.med * scale / a.med, b.lo * scale / a.hi, b.hi * scale / a.lo, b)

    def fmt_ratio(self, r):
        if r is None:
            return "—"
        med, lo, hi, b = r
        return f"**{fmt_x(med)}** [{fmt_x(lo)}–{fmt_x(hi)}]{dagger(b)}"

    # ------------------------------------------------------------------ targets

    def fastest_peer(self, w):
        best = None
        for fam in ("yjs", "loro"):
            st = self.stat(w, fam)
            if st and (best is None or st.med < best[1].med):
                best = (fam, st)
        return best

    def targets(self):
        """[(id, target text, measured text, met bool or None)]."""
        out = []

        def tb(w, need, tid):
            r = self.ratio(w)
            if r is None:
                out.append((tid, f"{w}: ≥ {need}× TinyBase", "not measured", None))
                return
            out.append((tid, f"{w} ≥ {need}× TinyBase", f"{fmt_x(r[0])} [{fmt_x(r[1])}–{fmt_x(r[2])}]{dagger(r[3])}",
                        r[0] >= need))

        def vs_limit(w, limit, factor, tid, text, per_op=True):
            a = self.ts(w)
            lim = self.stat(limit, "limit")
            if a is None or lim is None:
                out.append((tid, text, "not measured", None))
                return
            # Time per op (cell / row), tinystore over the limit's.
            rel = (a.med / a.ops) / (lim.med / lim.ops) if per_op else a.med / lim.med
            out.append((tid, text, f"{rel:.2f}× the limit's time per op ({fmt_s(a.med)} vs {limit} "
                                   f"{fmt_s(lim.med)}{dagger(lim)} for {lim.ops:,} ops)", rel <= factor))

        tb("W1_bulk_insert", 10, "W1")
        vs_limit("W1_bulk_insert", "L2_hashmap_nested_100kx10", 1.0, "W1/L2", "W1 no slower than L2")
        tb("W2_single_cell_writes", 20, "W2")
        vs_limit("W3_random_get_cell", "L3_hashmap_random_get_1M", 1.0, "W3/L3", "W3 no slower than L3")
        for w in ("W4a_mergeable_bulk_insert", "W5a_merge_disjoint", "W5b_merge_concurrent_edits"):
            tb(w, 10, w[:3])
            a, p = self.ts(w), self.fastest_peer(w)
            if a and p:
                out.append((w[:3] + "/peer", f"{w[:3]} faster than the fastest CRDT peer",
                            f"{fmt_s(a.med)} vs {p[0]} {fmt_s(p[1].med)}{dagger(p[1])} ({fmt_x(p[1].med / a.med)})",
                            a.med < p[1].med))
        for w in ("W4b_get_mergeable_content_json", "W4c_parse_set_mergeable_content"):
            tb(w, 3, w[:3])
            vs_limit(w, "L4_serde_json_100kx10", 2.0, w[:3] + "/L4", f"{w[:3]} within 2× of L4 (per cell)")
            vs_limit(w + "@100k", "L4_serde_json_100kx10", 2.0, w[:3] + "@100k/L4",
                     f"{w[:3]}@100k within 2× of L4 (same 1M cells)")
        tb("W6_ws_sync_to_server", 10, "W6")
        for w, _, tid in VIEWS:
            tb(w, 10, tid)
        compared = [self.view_figures(w) for w, _, _ in VIEWS]
        compared = [c for c in compared if c[1] is not None]
        if compared:
            same = sum(1 for c in compared if c[1])
            out.append(("W9-W11/figures", "W9–W11 deterministic figures (listener calls, checksums, result rows, "
                        "totals) equal TinyBase's", f"{same} of {len(compared)} workloads equal", same == len(compared)))
        # W7: rows per second of the tabular save against L5's (≥ 0.7×): judged against L5 of
        # the same shape (tinystore's bundled SQLite, same run); L5 at 1M rows (the limits
        # program, its own SQLite) shown for information.
        for w, same in (("W7_sqlite_save_tabular", "L5_rusqlite_insert_1tx@2500x10"),
                        ("W7_sqlite_save_tabular@100k", "L5_rusqlite_insert_1tx@100k")):
            a = self.ts(w)
            for limit in (same, "L5_rusqlite_insert_1M_rows_1tx"):
                lim = self.stat(limit, "limit")
                if a is None or lim is None:
                    continue
                rows = a.records[0]["rows"] * a.records[0].get("reps", 1)
                rate = rows / a.med
                lrate = lim.ops / lim.med
                judged = limit == same
                tid = w.replace("W7_sqlite_save_tabular", "W7") + ("/L5" if judged else "/L5-1M")
                out.append((tid,
                            f"{w} ≥ 0.7× {limit}'s rows/s" + ("" if judged else " (for information)"),
                            f"{rate / lrate:.2f}× ({rate:,.0f} vs {lrate:,.0f} rows/s{dagger(lim)})",
                            rate / lrate >= 0.7 if judged else None))
        for w, tid, tb_default, factor, label in (("W8_memory_store", "W8s", 68, 0.75, "≤ 0.75×"),
                                                  ("W8_memory_mergeable", "W8m", 251, 1 / 3, "≤ 1/3 of")):
            a = self.ts(w, "heap_bytes_per_cell")
            b = self.stat(w, "tinybase", "heap_bytes_per_cell")
            if a is None:
                continue
            ref = b.med if b else tb_default
            out.append((tid, f"{w} heap {label} TinyBase's",
                        f"{a.med:.1f} B/cell vs TinyBase {ref:.1f}{dagger(b) if b else '†'} "
                        f"(limit {ref * factor:.1f})", a.med <= ref * factor))
        return out

    def view_figures(self, w):
        """(tinystore's figures, equal to TinyBase's: bool, or None when TinyBase did not run)."""
        a = self.ts(w)
        b = self.stat(w, "tinybase", baseline_ok=False)
        if a is None:
            return (None, None)
        def figures(st):
            runs = {tuple((k, r[k]) for k in VIEW_FIGURES if k in r) for r in st.records}
            return runs
        mine = figures(a)
        if b is None:
            return (mine, None)
        return (mine, len(mine) == 1 and mine == figures(b))

    # ------------------------------------------------------------------ placeholders

    def placeholder(self, m):
        """{{kind:args}}: med:fam:workload, ratio:workload, heap:fam:workload, x:workload:fam
        (fam's median / tinystore's), us:fam:workload (µs per op), figures:workload (W9-W11's
        deterministic figures equal TinyBase's), target:id (met / not met), meta:key, load, extra:workload:key (tinystore's median of an
        extra field)."""
        kind, _, arg = m.group(1).partition(":")
        parts = arg.split(":") if arg else []
        try:
            if kind == "med":
                fam, w = parts
                st = self.stat(w, fam) if fam != "tinystore" else self.ts(w)
                return fmt_s(st.med) + dagger(st) if st else "—"
            if kind == "range":
                fam, w = parts
                st = self.stat(w, fam) if fam != "tinystore" else self.ts(w)
                return f"[{fmt_s(st.lo)}–{fmt_s(st.hi)}]" if st else "—"
            if kind == "ratio":
                r = self.ratio(parts[0])
                return fmt_x(r[0]) + dagger(r[3]) if r else "—"
            if kind == "x":
                w, fam = parts
                a, b = self.ts(w), self.stat(w, fam)
                return fmt_x(b.med / a.med) if a and b else "—"
            if kind == "per":  # per-op time of tinystore over a limit's: per:workload:limit
                w, limit = parts
                a, lim = self.ts(w), self.stat(limit, "limit")
                return f"{(a.med / a.ops) / (lim.med / lim.ops):.2f}×" if a and lim else "—"
            if kind == "us":  # µs per op: us:fam:workload
                fam, w = parts
                st = self.stat(w, fam) if fam != "tinystore" else self.ts(w)
                return f"{st.med / st.ops * 1e6:.1f} µs" + dagger(st) if st else "—"
            if kind == "figures":  # figures:workload: equal / differ / not compared
                return {True: "equal", False: "**differ**", None: "not compared"}[self.view_figures(parts[0])[1]]
            if kind == "heap":
                fam, w = parts
                st = self.stat(w, fam, "heap_bytes_per_cell")
                return f"{st.med:.0f}" if st else "—"
            if kind == "rss":
                fam, w = parts
                st = self.stat(w, fam, "rss_bytes_per_cell")
                return f"{st.med:.0f}" if st else "—"
            if kind == "target":
                for tid, _, _, met in self.targets():
                    if tid == arg:
                        return {True: "met", False: "not met", None: "—"}[met]
                return "?"
            if kind == "load":
                return self.load_text()
            if kind == "extra":  # a tinystore extra field's median: extra:workload:key
                w, key = parts
                st = self.ts(w, key)
                return f"{st.med:g}" if st else "—"
        except (ValueError, ZeroDivisionError):
            pass
        return m.group(0)

    def load_text(self):
        loads = [r["loadavg_1m"] for recs in self.now.values() for r in recs
                 if isinstance(r.get("loadavg_1m"), (int, float))]
        if not loads:
            return "not recorded"
        return f"{min(loads):.1f}–{max(loads):.1f} (1-minute load average, median {statistics.median(loads):.1f})"

    # ------------------------------------------------------------------ the document

    def write(self, notes):
        m = self.meta
        L = []
        add = L.append
        add("# Benchmarks")
        add("")
        add("<!-- Generated by `make bench` (cli/bench/run.py, cli/bench/report.py; analysis from "
            "cli/bench/notes.md). Edit those, not this file. -->")
        add("")
        add("Workloads: `../shared/perf/WORKLOADS.md`. tinystore runs them with `tinystore bench` (each run of each "
            "workload in a fresh process, one timed section, every check of WORKLOADS.md enforced); TinyBase "
            "10.0.1 with its reference `../shared/perf/tinybase/bench.mjs`, the CRDT peers with "
            "`../shared/perf/peers/bench.mjs`, the Rust limits with `../shared/perf/limits`, **all on this "
            "machine in the same session, interleaved run by run** (tinystore's and TinyBase's run of each "
            "workload back to back). Figures: median of the runs, [min–max]. A ratio is the ratio of the "
            "medians, with [worst–best] pairing of the extremes. † = not measured in this run: the figure is "
            "BASELINE.md's (`../shared/perf/results`, 2026-11-22, a machine of the same kind).")
        add("")
        add("| | |")
        add("|---|---|")
        add(f"| date | {m.get('date_utc', '?')}, {m.get('runs', '?')} runs of each workload "
            f"({m.get('seconds', '?')} s in all) |")
        add(f"| machine | {m.get('cpu', '?')}, {m.get('nproc', '?')} cores, {m.get('mem_gib', '?')} GiB, "
            f"kernel {m.get('kernel', '?')} |")
        ls, le = m.get("loadavg_start"), m.get("loadavg_end")
        add(f"| load | {self.load_text()}; at the start {ls}, at the end {le} (1/5/15 min). The machine is "
            f"shared with other builds: read differences under ~25% as noise |")
        impls = sorted({recs[0]["impl"] for recs in self.now.values()})
        add(f"| versions | {'; '.join(impls)}; {m.get('rustc', '')}; node {m.get('node', '?')} |")
        if m.get("unavailable"):
            add(f"| not run here | {', '.join(m['unavailable'])} (BASELINE figures used, marked †) |")
        add(f"| not run (by design) | Automerge (minutes per run; BASELINE); Loro at 100k rows (~5 min a run; "
            f"BASELINE, 1 run) |")
        add("")
        add("Reproduce: `make bench` (BENCH_RUNS=3 by default; the JSON lines stay in `target/perf/results/latest`). "
            "One workload: `target/release/tinystore bench --runs 5 W4`; one run in-process: "
            "`tinystore bench --child W4`. CI smoke run: `make bench-quick` (tiny sizes, checks only, "
            "then W1–W3 instruction counts against `cli/bench/instructions.json`, see Instruction counts below).")
        add("")

        # Targets
        add("## Targets (issue 8)")
        add("")
        add("| target | measured (this run) | met |")
        add("|---|---|---|")
        for tid, text, measured, met in self.targets():
            add(f"| {text} | {measured} | {({True: 'yes', False: '**no**', None: '—'})[met]} |")
        add("")

        # Main table
        add("## Every workload, standard sizes")
        add("")
        add("| workload (ops) | tinystore | TinyBase 10.0.1 | TinyBase ÷ tinystore | Yjs | Loro | Automerge | Rust limit |")
        add("|---|---|---|---|---|---|---|---|")
        rows = [
            ("W1_bulk_insert", "W1 bulk insert 100k×10, 1 tx", "L2_hashmap_nested_100kx10", "L2"),
            ("W2_single_cell_writes", "W2 300k setCell + 2 listeners", None, None),
            ("W3_random_get_cell", "W3 1M random getCell", "L3_hashmap_random_get_1M", "L3"),
            ("W4a_mergeable_bulk_insert", "W4a MergeableStore insert 10k×10", None, None),
            ("W4b_get_mergeable_content_json", "W4b export (peers: binary encode)", "L4_serde_json_100kx10", "L4"),
            ("W4c_parse_set_mergeable_content", "W4c import (peers: decode + read)", None, None),
            ("W5a_merge_disjoint", "W5a merge both ways, 2×10k disjoint", None, None),
            ("W5b_merge_concurrent_edits", "W5b merge after 24k edits", None, None),
            ("W6_ws_sync_to_server", "W6 WebSocket sync 10k×10", None, None),
            ("W7_sqlite_save_json", "W7 SQLite save, JSON, 50k×10", None, None),
            ("W7_sqlite_load_json", "W7 SQLite load, JSON, 50k×10", None, None),
            ("W7_sqlite_save_tabular", "W7 SQLite save, tabular, 2.5k×10 ×10", "L5_rusqlite_insert_1tx@2500x10",
             "L5, same shape, same moment"),
            ("W7_sqlite_load_tabular", "W7 SQLite load, tabular, 2.5k×10 ×10", None, None),
        ]
        for w, label, limit, lname in rows:
            a = self.ts(w)
            ops = f" ({a.ops:,})" if a else ""
            lim = "—"
            if limit:
                ls_ = self.stat(limit, "limit")
                if ls_:
                    lim = f"{lname}: {cell(ls_)}"
                    if ls_.ops != (a.ops if a else ls_.ops):
                        lim += f" for {ls_.ops:,} " + ("rows" if limit.startswith("L5") else "cells")
            peers = [cell(self.stat(w, f)) if w[:2] in ("W4", "W5") else "—" for f in ("yjs", "loro", "automerge")]
            add(f"| {label}{ops} | {cell(a)} | {cell(self.stat(w, 'tinybase'))} | {self.fmt_ratio(self.ratio(w))} | "
                + " | ".join(peers) + f" | {lim} |")
        add("")
        extras = []
        w6 = self.ts("W6_ws_sync_to_server")
        if w6:
            extras.append(f"W6 client fill (untimed): tinystore {fmt_s(w6.extra('client_fill_seconds'))}")
            tb6 = self.stat("W6_ws_sync_to_server", "tinybase")
            if tb6:
                extras[-1] += f", TinyBase {fmt_s(tb6.extra('client_fill_seconds'))}{dagger(tb6)}"
        w5b = self.ts("W5b_merge_concurrent_edits")
        if w5b:
            winners = sorted({r.get("conflict_winner") for r in w5b.records})
            extras.append(f"W5b `r10.c2` winner(s): {', '.join(map(str, winners))} (HLC last writer wins)")
        w4b = self.ts("W4b_get_mergeable_content_json")
        if w4b:
            tbj = self.stat("W4b_get_mergeable_content_json", "tinybase")
            extras.append(f"W4b JSON: tinystore {int(w4b.extra('json_bytes')):,} bytes"
                          + (f", TinyBase {int(tbj.extra('json_bytes')):,}{dagger(tbj)}" if tbj else ""))
        if extras:
            add("; ".join(extras) + ".")
            add("")

        # Derived views
        if any(self.ts(w) for w, _, _ in VIEWS):
            add("## Derived views (W9-W11)")
            add("")
            add("Ours, not WORKLOADS.md's: tinystore's `core/benches/workloads/views.rs` and TinyBase's "
                "`cli/bench/views.mjs` run the same seeded steps with the same checks (cli/bench/notes.md, "
                "\"Derived views\"). The last column compares the deterministic figures both print (listener "
                "calls, FNV checksum of every slice in order, result rows, sum of the totals): equal means both "
                "did the same work with the same results.")
            add("")
            add("| workload (ops) | tinystore | TinyBase 10.0.1 | TinyBase ÷ tinystore | µs per op: tinystore / TinyBase "
                "| figures vs TinyBase |")
            add("|---|---|---|---|---|---|")
            for w, label, _ in VIEWS:
                a, b = self.ts(w), self.stat(w, "tinybase", baseline_ok=False)
                if a is None:
                    continue
                us = lambda st: f"{st.med / st.ops * 1e6:.{1 if st.med / st.ops >= 1e-5 else 2}f}"
                per = us(a) + (f" / {us(b)}" if b else "")
                mine, same = self.view_figures(w)
                shown = ", ".join(f"{k} {v:,}" if isinstance(v, int) and k != "checksum" else f"{k} {v}"
                                  for k, v in next(iter(mine))) if len(mine) == 1 else f"{len(mine)} differing runs"
                verdict = {True: "equal", False: "**differ**", None: "TinyBase not run"}[same]
                add(f"| {label} ({a.ops:,}) | {cell(a)} | {cell(b)} | {self.fmt_ratio(self.ratio(w))} | {per} | "
                    f"{verdict}: {shown} |")
            add("")

        # PostgreSQL
        pg = [(w, label) for w, label in PG_WORKLOADS if self.ts(w)]
        fanout = self.ts("W12f_pg_fanout")
        if pg or fanout:
            add("## PostgreSQL (W12)")
            add("")
            add("`tinystore bench W12 W12f` beside `cli/bench/postgres.mjs` (TinyBase 10.0.1's "
                "`createPostgresPersister` on the kit's `postgres` driver), on one PostgreSQL 15 on loopback "
                "(`tests/postgres/pg.sh`'s cluster, fsync on), each side in a database of its own "
                "(cli/bench/notes.md, \"PostgreSQL\"). Target: ≥ 5× TinyBase on each W12 row; W12f p99 < 100 ms.")
            add("")
            add("| workload (ops) | tinystore | TinyBase 10.0.1 | TinyBase ÷ tinystore | target |")
            add("|---|---|---|---|---|")
            for w, label in pg:
                a = self.ts(w)
                b = self.stat(w, "tinybase", baseline_ok=False)
                r = self.ratio(w)
                met = "—" if r is None else ("met" if r[0] >= 5 else "**not met**")
                add(f"| {label} ({a.ops:,}) | {cell(a)} | {cell(b) if b else '—'} | {self.fmt_ratio(r)} | "
                    f"≥ 5× ({met}) |")
            if fanout:
                p50 = Stat(self.now[("W12f_pg_fanout", "tinystore")], "p50_ms")
                p99 = Stat(self.now[("W12f_pg_fanout", "tinystore")], "p99_ms")
                met = "met" if p99.med < 100 else "**not met**"
                add(f"| W12f write on one of 3 server processes → a client of another, p50 / p99 "
                    f"({fanout.ops:,} arrivals) | {p50.med:.1f} ms / {p99.med:.1f} ms | — | — | "
                    f"p99 < 100 ms ({met}) |")
            add("")

        # App start-up
        if any(self.ts(w) for w, _ in STARTUP_WORKLOADS):
            add("## App start-up (W13)")
            add("")
            add("`tinystore bench W13` (cli/src/bench/startup.rs) beside `cli/bench/startup.mjs` (TinyBase 10.0.1's "
                "`createBetterSqlite3Persister` and `createFilePersister`): a file of 100k×10 cells, written by each "
                "side just before (warm page cache), then timed: open it (a new connection), create the store and "
                "its persister, load, first `get_cell` (cli/bench/notes.md, \"App start-up\"). Targets: ≥ 5× "
                "TinyBase, and within 2× of L6, raw rusqlite opening the tabular file and reading every row into "
                "memory (`L6_rusqlite_scan@100k`, same process, same file, right after tinystore's load).")
            add("")
            add("| workload (cells) | tinystore | TinyBase 10.0.1 | TinyBase ÷ tinystore | ≥ 5× TinyBase | "
                "tinystore ÷ L6 | within 2× of L6 |")
            add("|---|---|---|---|---|---|---|")
            l6 = self.stat("L6_rusqlite_scan@100k", "limit", baseline_ok=False)
            for w, label in STARTUP_WORKLOADS:
                a = self.ts(w)
                if a is None:
                    continue
                b = self.stat(w, "tinybase", baseline_ok=False)
                r = self.ratio(w)
                met = "—" if r is None else ("met" if r[0] >= 5 else "**not met**")
                rel = a.med / l6.med if l6 else None
                lmet = "—" if rel is None else ("met" if rel <= 2 else "**not met**")
                add(f"| {label} ({a.ops:,}) | {cell(a)} | {cell(b) if b else '—'} | {self.fmt_ratio(r)} | {met} | "
                    f"{f'{rel:.2f}×' if rel else '—'} | {lmet} |")
            if l6:
                add(f"| L6 raw rusqlite: open + read 100k rows × 11 columns into memory | {cell(l6)} | — | — | — "
                    f"| 1.00× | — |")
            add("")
        # One server at scale
        add_lines = self.server_section()
        L.extend(add_lines)

        # Scaled-up
        add("## Scaled-up variants (`@100k`)")
        add("")
        add("TinyBase does not run these (MergeableStore at ~43 µs/cell; its tabular save fails above 2,978 rows; "
            "one 1M-cell sync message exceeds its 16 MiB frame limit). The peers' large scale is the same shape "
            "(W4: 100k rows; W5: 2×50k rows, 120k edits).")
        add("")
        add("| workload (ops) | tinystore | Yjs | Loro | tinystore ÷ limit, or note |")
        add("|---|---|---|---|---|")
        srows = [
            ("W4a_mergeable_bulk_insert@100k", "W4a insert 100k×10", None),
            ("W4b_get_mergeable_content_json@100k", "W4b export", "L4_serde_json_100kx10"),
            ("W4c_parse_set_mergeable_content@100k", "W4c import", "L4_serde_json_100kx10"),
            ("W5a_merge_disjoint@100k", "W5a merge 2×50k disjoint", None),
            ("W5b_merge_concurrent_edits@100k", "W5b merge after 120k edits", None),
            ("W6_ws_sync_to_server@100k", "W6 sync 100k×10 (ten 10k-row transactions)", None),
            ("W7_sqlite_save_tabular@100k", "W7 save, tabular, 100k×10", "L5_rusqlite_insert_1tx@100k"),
            ("W7_sqlite_load_tabular@100k", "W7 load, tabular, 100k×10", None),
            ("W7_autosave_1_cell_tabular@100k", "W7 auto-save of 1 changed cell into 100k rows (per save)", None),
            ("L5_rusqlite_insert_1tx@100k", "L5 at 100k rows, tinystore's bundled SQLite", None),
            ("L5_rusqlite_insert_1tx@2500x10", "L5 at 2,500 rows ×10 fresh files (table creation timed), "
             "beside W7's saves, tinystore's bundled SQLite", None),
        ]
        for w, label, limit in srows:
            fam = "limit" if w.startswith("L5") else "tinystore"
            a = self.stat(w, fam, baseline_ok=False)
            if a is None:
                continue
            note = ""
            if limit:
                lim = self.stat(limit, "limit")
                if lim and a and limit.startswith("L5"):
                    rate = a.records[0]["rows"] / a.med
                    note = f"{rate / (lim.ops / lim.med):.2f}× {limit}'s rows/s"
                elif lim and a:
                    note = f"{(a.med / a.ops) / (lim.med / lim.ops):.2f}× {limit}'s time per op"
            if w.startswith("W7_autosave"):
                us = a.med / a.ops * 1e6
                full = self.ts("W7_sqlite_save_tabular@100k")
                note = f"{us:.0f} µs per save" + (f"; {full.med / (a.med / a.ops):,.0f}× faster than the full save"
                                                   if full else "")
            if w.startswith("W5b") or w.startswith("W5a") or w.startswith("W4"):
                p = [self.stat(w, f) for f in ("yjs", "loro")]
                peers = [cell(x) for x in p]
            else:
                peers = ["—", "—"]
            add(f"| {label} ({a.ops:,}) | {cell(a)} | {peers[0]} | {peers[1]} | {note} |")
        add("")

        # Memory
        add("## W8: memory per cell")
        add("")
        add("Live heap bytes per cell after `fill` (tinystore: counted by `tinystore bench`'s global allocator, only "
            "while W8 runs; TinyBase: V8 `heapUsed` delta after GC), and the RSS delta per cell.")
        add("")
        add("| workload | tinystore heap B/cell | TinyBase heap B/cell | tinystore ÷ TinyBase | tinystore RSS Δ B/cell | TinyBase RSS Δ B/cell |")
        add("|---|---|---|---|---|---|")
        for w, label in (("W8_memory_store", "W8s Store, 1M cells"), ("W8_memory_mergeable", "W8m MergeableStore, 100k cells")):
            a = self.ts(w, "heap_bytes_per_cell")
            b = self.stat(w, "tinybase", "heap_bytes_per_cell")
            ar = self.ts(w, "rss_bytes_per_cell")
            br = self.stat(w, "tinybase", "rss_bytes_per_cell")
            f = lambda st: f"{st.med:.1f} [{st.lo:.1f}–{st.hi:.1f}]{dagger(st)}" if st else "—"
            ratio = f"{a.med / b.med:.2f}" if a and b else "—"
            add(f"| {label} | **{f(a)}** | {f(b)} | {ratio} | {f(ar)} | {f(br)} |")
        l2 = self.stat("L2_hashmap_nested_100kx10", "limit", "heap_bytes_per_cell")
        if l2:
            add("")
            add(f"L2 (std nested HashMap, W1's shape) holds {l2.med:.1f} B/cell of live heap{dagger(l2)}.")
        add("")

        # Limits
        add("## Rust limits (no store semantics)")
        add("")
        add("| limit | this run | BASELINE |")
        add("|---|---|---|")
        for w in sorted({k[0] for k in list(self.now) + list(self.base) if k[1] == "limit"}):
            now = self.now.get((w, "limit"))
            base = self.base.get((w, "limit"))
            add(f"| {w} ({(now or base)[0]['ops']:,}) | {cell(Stat(now)) if now else '—'} | "
                f"{cell(Stat(base)).replace('†', '') if base else '—'} |")
        add("")

        # Notes
        if notes:
            add(re.sub(r"\{\{(\w+(?::[^}]*)?)\}\}", self.placeholder, notes).rstrip())
            add("")
        return "\n".join(L)

    def server_section(self):
        """The W14 section (one `tinystore serve` at 1k and 10k clients), or no lines when this run
        has neither size."""
        sizes = [(w, label) for w, label in SERVER_WORKLOADS if self.ts(w)]
        if not sizes:
            return []
        L = ["## One server at scale (W14)", ""]
        L.append("`tinystore bench W14@1k W14`: one `tinystore serve` child process (rooms kept in a fresh SQLite "
                 "file, default 1 s save coalescing; `TINYSTORE_W14_RELAY_ONLY=1`: `--relay-only`, no room stores), its clients in the bench process (plain WebSocket "
                 "connections, legacy framing), 10 per room; each room gets one ContentDiff a second from one of "
                 "its clients, the rooms' writes spread evenly over the second, 5 s warm-up then 20 s measured. "
                 "Latency: from the write leaving its client to the relayed frame reaching each of the room's 9 "
                 "other clients. Both processes share the machine's cores (cli/bench/notes.md, \"W14\"). "
                 "TinyBase's `createWsServer` is not measured at this scale. Target: p99 < 50 ms at 10k clients.")
        L.append("")
        L.append("| size (receipts) | p50 | p99 | max | lost | server CPU (% of a core) | server RSS / peak | "
                 "client CPU | target |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for w, label in sizes:
            recs = self.now[(w, "tinystore")]
            med = lambda k: Stat(recs, k).med
            lost = sum(r.get("lost", 0) for r in recs)
            if w == "W14_server_fanout":
                target = "p99 < 50 ms (" + ("met" if med("p99_ms") < 50 else "**not met**") + ")"
            else:
                target = "—"
            kept = "/".join(sorted({r.get("room_stores", "?") for r in recs}))
            L.append(f"| {label}, rooms {kept} ({int(med('receipts')):,} of {int(med('expected')):,}) | {med('p50_ms'):.1f} ms | "
                     f"**{med('p99_ms'):.1f} ms** | {med('max_ms'):.0f} ms | {lost} | {med('server_cpu_pct'):.0f}% | "
                     f"{med('server_rss_mb'):.0f} / {med('server_hwm_mb'):.0f} MB | {med('client_cpu_pct'):.0f}% | "
                     f"{target} |")
        L.append("")
        return L


SERVER_WORKLOADS = [
    ("W14_server_fanout@1k", "W14@1k: 1,000 clients, 100 rooms, 100 writes/s"),
    ("W14_server_fanout", "W14: 10,000 clients, 1,000 rooms, 1,000 writes/s"),
]


PG_WORKLOADS = [
    ("W12_pg_save_json", "W12 save, JSON mode, 50k×10 cells"),
    ("W12_pg_load_json", "W12 load, JSON mode, 50k×10 cells"),
    ("W12_pg_save_tabular", "W12 save, tabular, 5k×10 cells"),
    ("W12_pg_load_tabular", "W12 load, tabular, 5k×10 cells"),
    ("W12_pg_autosave_cell@100k", "W12 auto-save of one cell into 100k rows, 200 writes"),
]


STARTUP_WORKLOADS = [
    ("W13_startup_sqlite_json", "W13 SQLite, JSON mode, Store"),
    ("W13_startup_sqlite_tabular", "W13 SQLite, tabular, Store"),
    ("W13_startup_mergeable_json", "W13 SQLite, JSON mode, MergeableStore"),
    ("W13_startup_file_json", "W13 file persister (JSON), Store"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--perf", default="../shared/perf")
    ap.add_argument("--notes", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md"))
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    notes = open(args.notes).read() if os.path.exists(args.notes) else ""
    text = Report(args.dir, args.perf).write(notes)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
