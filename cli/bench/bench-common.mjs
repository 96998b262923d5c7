// What cli/bench's TinyBase scripts (views.mjs, postgres.mjs) share: the JSON line each run
// prints, as ../shared/perf/tinybase/bench.mjs prints it, and the check that fails a run.
// Installed beside them (make perf-deps, make kit, cli/bench/run.py).

import {loadavg} from 'node:os';
import {performance} from 'node:perf_hooks';

export const IMPL = 'tinybase-10.0.1/node-' + process.versions.node;
export const RUN = +(process.env.BENCH_RUN ?? 1);

export const now = () => performance.now();

export const emit = (workload, ops, seconds, extra = {}) =>
  console.log(
    JSON.stringify({
      workload,
      impl: IMPL,
      run: RUN,
      ops,
      seconds: +seconds.toFixed(6),
      ops_per_s: Math.round(ops / seconds),
      rss_bytes: process.resourceUsage().maxRSS * 1024,
      loadavg_1m: loadavg()[0],
      ...extra,
    }),
  );

export const assert = (condition, message) => {
  if (!condition) {
    throw new Error('check failed: ' + message);
  }
};
