//! The pull (spec sync.md §2 step 1): content hashes, then table, row and cell diffs, then
//! value diffs, as a record per pull advanced by each response, and the engine that tracks
//! pulls and their pending requests.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::bodies::{
    cell_hashes_json, content_hashes, diff_response, hashes_from, nested_hashes_from,
    row_hashes_json, table_hashes_json, tables_stamp, values_stamp,
};
use super::{Inner, Received, SyncError, lock};
use crate::content::{Tables, Values};
use crate::mergeable::{
    MergeableChanges, MergeableError, ReceivedChanges, TablesStamp, ValuesStamp,
    merge_tables_stamps,
};
use crate::sync::protocol::{self, MAX_PENDING_REQUESTS, MessageType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    Hashes,
    Tables,
    Rows,
    Cells,
    Values,
}

#[derive(Debug)]
pub(super) enum Purpose {
    /// `load()`: falls back to the initial content; a waiter may block on it.
    Load {
        initial: Option<(Tables, Values)>,
        waiter: Option<u64>,
    },
    /// Reacting to a peer's ContentHashes: on failure, a full load follows (as in TinyBase).
    Notified,
}

pub(super) struct Pull {
    transaction_id: String,
    other: Option<String>,
    stage: Stage,
    purpose: Purpose,
    other_values_hash: u32,
    local_values_hash: u32,
    /// The tables stamp gathered from the diff responses (hash-less).
    tables: TablesStamp,
}

impl Pull {
    /// A pull that starts by learning the content hashes (asking for them, or told them).
    pub(super) fn new(transaction_id: String, other: Option<String>, purpose: Purpose) -> Pull {
        Pull {
            transaction_id,
            other,
            stage: Stage::Hashes,
            purpose,
            other_values_hash: 0,
            local_values_hash: 0,
            tables: TablesStamp::default(),
        }
    }
}

pub(super) struct PendingRequest {
    pub(super) to: Option<String>,
    pub(super) message: MessageType,
    pub(super) pull: u64,
    pub(super) deadline: Instant,
}

/// What the engine decided, carried out after its lock is released (sending and applying may
/// re-enter the store and its listeners).
pub(super) enum Effect {
    Send {
        to: Option<String>,
        request_id: Option<String>,
        message: MessageType,
        body: String,
    },
    Finished {
        purpose: Purpose,
        /// The peer the changes came from (the one a pull asked), if known.
        from: Option<String>,
        /// How they came: a ContentDiff or a pull.
        received: Received,
        result: Result<Option<Box<Changes>>, SyncError>,
    },
    Schedule(Instant),
}

/// Changes received from a peer, typed, to apply.
pub(super) enum Changes {
    /// What a pull gathered from the peer's responses (checked when applied).
    Pulled(MergeableChanges),
    /// A ContentDiff's changes, read as they arrived (or why they could not be).
    Diff(Result<ReceivedChanges, MergeableError>),
}

#[derive(Default)]
pub(super) struct Engine {
    pub(super) pending: HashMap<String, PendingRequest>,
    pub(super) pulls: HashMap<u64, Pull>,
    next_id: u64,
    pub(super) finished_waiters: HashSet<u64>,
}

impl Engine {
    pub(super) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends a request of `pull`, or fails the pull when too many are pending.
    pub(super) fn request(
        &mut self,
        pull_id: u64,
        to: Option<String>,
        message: MessageType,
        body: String,
        deadline: Instant,
        effects: &mut Vec<Effect>,
    ) {
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            self.fail(pull_id, SyncError::TooManyRequests, effects);
            return;
        }
        let Some(pull) = self.pulls.get(&pull_id) else {
            return;
        };
        let request_id = protocol::request_id(&pull.transaction_id);
        self.pending.insert(
            request_id.clone(),
            PendingRequest {
                to: to.clone(),
                message,
                pull: pull_id,
                deadline,
            },
        );
        effects.push(Effect::Schedule(deadline));
        effects.push(Effect::Send {
            to,
            request_id: Some(request_id),
            message,
            body,
        });
    }

    pub(super) fn fail(&mut self, pull_id: u64, error: SyncError, effects: &mut Vec<Effect>) {
        self.pending.retain(|_, p| p.pull != pull_id);
        if let Some(pull) = self.pulls.remove(&pull_id) {
            effects.push(Effect::Finished {
                purpose: pull.purpose,
                from: pull.other,
                received: Received::PulledChanges,
                result: Err(error),
            });
        }
    }

    fn finish(&mut self, pull_id: u64, values: Option<ValuesStamp>, effects: &mut Vec<Effect>) {
        let Some(pull) = self.pulls.remove(&pull_id) else {
            return;
        };
        let changes = MergeableChanges {
            tables: pull.tables,
            values: values.unwrap_or_default(),
        };
        let changes = (!changes.is_empty()).then(|| Box::new(Changes::Pulled(changes)));
        effects.push(Effect::Finished {
            purpose: pull.purpose,
            from: pull.other,
            received: Received::PulledChanges,
            result: Ok(changes),
        });
    }
}

impl Inner {
    /// Starts a load pull; returns the waiter id when `wait`.
    pub(super) fn start_load(
        self: &Arc<Self>,
        initial: Option<(Tables, Values)>,
        wait: bool,
    ) -> Option<u64> {
        self.status.count_load();
        let mut effects = Vec::new();
        let waiter;
        {
            let mut engine = lock(&self.engine);
            waiter = wait.then(|| engine.new_id());
            let id = engine.new_id();
            let purpose = Purpose::Load { initial, waiter };
            let pull = Pull::new(protocol::transaction_id(), None, purpose);
            engine.pulls.insert(id, pull);
            engine.request(
                id,
                None,
                MessageType::GetContentHashes,
                "\"\"".into(),
                Instant::now() + self.timeout,
                &mut effects,
            );
        }
        self.run(effects);
        waiter
    }

    pub(super) fn wait_for(self: &Arc<Self>, waiter: u64) {
        let mut engine = lock(&self.engine);
        loop {
            if engine.finished_waiters.remove(&waiter) || self.destroyed.load(Ordering::SeqCst) {
                return;
            }
            // The shared timer normally expires requests; ticking here too keeps a blocked
            // caller from depending on it.
            let next = engine.pending.values().map(|p| p.deadline).min();
            let wait = next.map_or(Duration::from_millis(50), |d| {
                d.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1))
            });
            engine = self
                .done
                .wait_timeout(engine, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            let overdue = engine
                .pending
                .values()
                .any(|p| p.deadline <= Instant::now());
            if overdue {
                drop(engine);
                self.tick(Instant::now());
                engine = lock(&self.engine);
            }
        }
    }

    /// Pulls from `other` after its hashes are known (spec §2 step 1).
    pub(super) fn after_hashes(
        &self,
        engine: &mut Engine,
        id: u64,
        other: Option<String>,
        (other_tables, other_values): (u32, u32),
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        let (tables_hash, values_hash) = self.store.get_mergeable_content_hashes();
        let Some(pull) = engine.pulls.get_mut(&id) else {
            return;
        };
        pull.other = other.clone();
        pull.other_values_hash = other_values;
        pull.local_values_hash = values_hash;
        if tables_hash != other_tables {
            pull.stage = Stage::Tables;
            let body = table_hashes_json(&self.store.get_mergeable_table_hashes());
            engine.request(
                id,
                other,
                MessageType::GetTableDiff,
                body,
                now + self.timeout,
                effects,
            );
        } else {
            self.values_step(engine, id, now, effects);
        }
    }

    fn values_step(&self, engine: &mut Engine, id: u64, now: Instant, effects: &mut Vec<Effect>) {
        let Some(pull) = engine.pulls.get_mut(&id) else {
            return;
        };
        if pull.other_values_hash == pull.local_values_hash {
            engine.finish(id, None, effects);
        } else {
            pull.stage = Stage::Values;
            let other = pull.other.clone();
            let body = table_hashes_json(&self.store.get_mergeable_value_hashes());
            engine.request(
                id,
                other,
                MessageType::GetValueDiff,
                body,
                now + self.timeout,
                effects,
            );
        }
    }

    /// Advances a pull with a response.
    pub(super) fn on_response(
        &self,
        engine: &mut Engine,
        id: u64,
        from: &str,
        body: Json,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        let Some(pull) = engine.pulls.get_mut(&id) else {
            return;
        };
        let bad = SyncError::InvalidMessage;
        match pull.stage {
            Stage::Hashes => {
                let Some(hashes) = content_hashes(&body) else {
                    return engine.fail(id, bad, effects);
                };
                self.after_hashes(engine, id, Some(from.to_string()), hashes, now, effects);
            }
            Stage::Tables | Stage::Rows => {
                let Some((stamp, diff)) = diff_response(&body) else {
                    return engine.fail(id, bad, effects);
                };
                if pull.stage == Stage::Tables {
                    pull.tables = stamp;
                } else {
                    merge_tables_stamps(&mut pull.tables, stamp);
                }
                if diff.as_object().is_none_or(|d| d.is_empty()) {
                    return self.values_step(engine, id, now, effects);
                }
                let other = pull.other.clone();
                let (message, body) = if pull.stage == Stage::Tables {
                    pull.stage = Stage::Rows;
                    let hashes = self.store.get_mergeable_row_hashes(&hashes_from(diff));
                    (MessageType::GetRowDiff, row_hashes_json(&hashes))
                } else {
                    pull.stage = Stage::Cells;
                    let hashes = self
                        .store
                        .get_mergeable_cell_hashes(&nested_hashes_from(diff));
                    (MessageType::GetCellDiff, cell_hashes_json(&hashes))
                };
                engine.request(id, other, message, body, now + self.timeout, effects);
            }
            Stage::Cells => {
                let Some(stamp) = tables_stamp(&body) else {
                    return engine.fail(id, bad, effects);
                };
                merge_tables_stamps(&mut pull.tables, stamp);
                self.values_step(engine, id, now, effects);
            }
            Stage::Values => {
                let Some(values) = values_stamp(&body) else {
                    return engine.fail(id, bad, effects);
                };
                engine.finish(id, Some(values), effects);
            }
        }
    }

    pub(super) fn tick(self: &Arc<Self>, now: Instant) {
        let mut effects = Vec::new();
        {
            let mut engine = lock(&self.engine);
            let overdue: Vec<(String, u64, Option<String>, MessageType)> = engine
                .pending
                .iter()
                .filter(|(_, p)| p.deadline <= now)
                .map(|(rid, p)| (rid.clone(), p.pull, p.to.clone(), p.message))
                .collect();
            for (rid, pull, to, message) in overdue {
                engine.pending.remove(&rid);
                let what = format!("{}.{rid}.{}", to.unwrap_or_default(), message.number());
                engine.fail(pull, SyncError::NoResponse(what), &mut effects);
            }
        }
        self.run(effects);
    }
}
