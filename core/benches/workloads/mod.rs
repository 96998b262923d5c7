//! The data of `../shared/perf/WORKLOADS.md` shared by every benchmark binary: cell ids, the
//! cell value of row `i`, cell `j`, `fill`, and the seeded LCG.

#![allow(dead_code)] // each benchmark binary uses a different part

use tinystore_core::{Cell, Row, Store};

pub const CELL_IDS: [&str; 10] = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"];

/// Numbers for cells 0–3, strings for 4–7, booleans for 8–9.
pub fn cell_value(i: u64, j: u64) -> Cell {
    if j < 4 {
        Cell::Number((i * 10 + j) as f64)
    } else if j < 8 {
        Cell::String(format!("s{i}_{j}").into())
    } else {
        Cell::Boolean((i + j) % 2 == 0)
    }
}

/// WORKLOADS.md `fill`: one transaction, rows built inside the loop.
pub fn fill(store: &Store, from: u64, to: u64) {
    store.transaction(|s| {
        for i in from..to {
            let mut row = Row::with_capacity(10);
            for (j, id) in CELL_IDS.iter().enumerate() {
                row.insert((*id).to_string(), cell_value(i, j as u64));
            }
            s.set_row("t", &format!("r{i}"), &row);
        }
    });
}

/// WORKLOADS.md's 32-bit LCG, seeded by the caller (42 in every workload).
pub struct Lcg(pub u32);

impl Lcg {
    /// `draw(n) = (x >> 8) mod n` after advancing `x`.
    pub fn draw(&mut self, n: u32) -> u32 {
        self.0 = self.0.wrapping_mul(1664525).wrapping_add(1013904223);
        (self.0 >> 8) % n
    }
}
