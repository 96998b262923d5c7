//! Incoming messages: answering a peer's requests, advancing pulls with its responses, and
//! applying the changes it sends or a pull gathered.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::bodies::{
    content_hashes, deep_hashes_from, diff_response_json, hashes_from, nested_hashes_from,
    row_hashes_json, table_hashes_json, tables_stamp_json, values_stamp_json,
};
use super::pull::{Changes, Effect, Pull, Purpose};
use super::timer::timer;
use super::{APPLYING, Inner, Received, SyncError, lock};
use crate::content::{Tables, Values};
use crate::mergeable::{MergeableError, MergeableStore, ReceivedChanges};
use crate::status::Status;
use crate::sync::protocol::{self, Message, MessageType};

impl Inner {
    pub(super) fn receive(self: &Arc<Self>, from: &str, message: Message) {
        if self.destroyed.load(Ordering::SeqCst) {
            return;
        }
        self.receives.fetch_add(1, Ordering::SeqCst);
        if let Some(f) = &self.on_receive {
            f(from, &message);
        }
        let auto_loading =
            self.syncing.load(Ordering::SeqCst) || self.auto_loading.load(Ordering::SeqCst);
        let now = Instant::now();
        let Message {
            request_id,
            message,
            body,
        } = message;
        let mut effects = Vec::new();
        match message {
            MessageType::Response => {
                let Some(rid) = request_id else { return };
                let mut engine = lock(&self.engine);
                let matches = engine
                    .pending
                    .get(&rid)
                    .is_some_and(|p| p.to.as_deref().is_none_or(|to| to == from));
                if matches {
                    let pending = engine.pending.remove(&rid).expect("checked");
                    self.on_response(&mut engine, pending.pull, from, body, now, &mut effects);
                }
            }
            MessageType::ContentHashes if auto_loading => {
                // Decoded messages were validated; a hand-built one may not have been.
                let Some(hashes) = content_hashes(&body) else {
                    return self.report(&SyncError::InvalidMessage);
                };
                let mut engine = lock(&self.engine);
                let id = engine.new_id();
                let transaction_id = request_id.unwrap_or_else(protocol::transaction_id);
                let pull = Pull::new(transaction_id, Some(from.to_string()), Purpose::Notified);
                engine.pulls.insert(id, pull);
                self.after_hashes(
                    &mut engine,
                    id,
                    Some(from.to_string()),
                    hashes,
                    now,
                    &mut effects,
                );
            }
            MessageType::ContentDiff if auto_loading => {
                effects.push(Effect::Finished {
                    purpose: Purpose::Notified,
                    from: Some(from.to_string()),
                    received: Received::Changes,
                    result: Ok(Some(Box::new(Changes::Diff(
                        self.store.read_changes(&body),
                    )))),
                });
            }
            MessageType::GetContentHashes => {
                if self.syncing.load(Ordering::SeqCst) || lock(&self.auto_save).is_some() {
                    let (t, v) = self.store.get_mergeable_content_hashes();
                    self.respond(from, request_id, format!("[{t},{v}]"));
                }
            }
            MessageType::GetTableDiff => {
                let (stamp, hashes) = self.store.get_mergeable_table_diff(&hashes_from(&body));
                let out = diff_response_json(&stamp, &table_hashes_json(&hashes));
                self.respond(from, request_id, out);
            }
            MessageType::GetRowDiff => {
                let (stamp, hashes) = self
                    .store
                    .get_mergeable_row_diff(&nested_hashes_from(&body));
                let out = diff_response_json(&stamp, &row_hashes_json(&hashes));
                self.respond(from, request_id, out);
            }
            MessageType::GetCellDiff => {
                let stamp = self.store.get_mergeable_cell_diff(&deep_hashes_from(&body));
                self.respond(from, request_id, tables_stamp_json(&stamp));
            }
            MessageType::GetValueDiff => {
                let stamp = self.store.get_mergeable_value_diff(&hashes_from(&body));
                self.respond(from, request_id, values_stamp_json(&stamp));
            }
            MessageType::ContentHashes | MessageType::ContentDiff => {}
        }
        self.run(effects);
    }

    fn respond(&self, to: &str, request_id: Option<String>, body: String) {
        self.send(
            Some(to),
            request_id.as_deref(),
            MessageType::Response,
            &body,
        );
    }

    /// Carries out the engine's decisions, in order, with no lock held.
    pub(super) fn run(self: &Arc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send {
                    to,
                    request_id,
                    message,
                    body,
                } => self.send(to.as_deref(), request_id.as_deref(), message, &body),
                Effect::Schedule(at) => timer().schedule(at, self),
                Effect::Finished {
                    purpose,
                    from,
                    received,
                    result,
                } => self.finished(purpose, from, received, result),
            }
        }
    }

    /// A ContentDiff that arrived as its text or already read (see
    /// [`Synchronizer::receive_validated`](super::Synchronizer::receive_validated)): what
    /// `receive` and `finished` do for one, reading the changes only when auto-loading.
    pub(super) fn receive_changes(
        self: &Arc<Self>,
        from: &str,
        read: impl FnOnce(&MergeableStore) -> Result<ReceivedChanges, MergeableError>,
    ) {
        if self.destroyed.load(Ordering::SeqCst) {
            return;
        }
        self.receives.fetch_add(1, Ordering::SeqCst);
        if !(self.syncing.load(Ordering::SeqCst) || self.auto_loading.load(Ordering::SeqCst)) {
            return;
        }
        self.status.count_load();
        let changes = Changes::Diff(read(&self.store));
        self.apply(changes, Some(from), Received::Changes);
        if self.store.had_mutated() && lock(&self.auto_save).is_some() {
            self.save_hashes();
        }
    }

    /// Applies changes received from `from` (`what` says how they came); the store checks the
    /// whole payload first, and a rejected one (nothing applied) is reported with its cause.
    fn apply(self: &Arc<Self>, changes: Changes, from: Option<&str>, what: Received) {
        self.set_status(Status::Loading);
        APPLYING.with(|a| a.set(true));
        // A listener's panic is resumed by the store once its transaction is finished; caught
        // here so that this thread's flag and the status are reset and the peer's changes are
        // not retried, and reported, since no caller of this thread made the write.
        let applied = catch_unwind(AssertUnwindSafe(|| match changes {
            Changes::Pulled(changes) => self.store.apply_pulled_changes(&changes).map(drop),
            Changes::Diff(Ok(changes)) => self.store.apply_received_changes(&changes).map(drop),
            Changes::Diff(Err(e)) => Err(e),
        }));
        APPLYING.with(|a| a.set(false));
        self.set_status(Status::Idle);
        let from = from.unwrap_or("?").to_string();
        match applied {
            Ok(Ok(())) => {}
            Ok(Err(source)) => self.report(&SyncError::Rejected { from, what, source }),
            Err(payload) => self.report(&SyncError::Listener {
                from,
                what,
                message: crate::error_kind::panic_message(&*payload),
            }),
        }
    }

    fn finished(
        self: &Arc<Self>,
        purpose: Purpose,
        from: Option<String>,
        received: Received,
        result: Result<Option<Box<Changes>>, SyncError>,
    ) {
        let destroyed = self.destroyed.load(Ordering::SeqCst);
        let from = from.as_deref();
        match (purpose, result) {
            (Purpose::Notified, Ok(Some(changes))) => {
                if !destroyed {
                    self.status.count_load();
                    self.apply(*changes, from, received);
                }
            }
            (Purpose::Notified, Ok(None)) => {}
            (Purpose::Notified, Err(e)) => {
                self.report(&e);
                // TinyBase answers a failed reaction to peer hashes with a full load.
                if !destroyed && matches!(e, SyncError::NoResponse(_)) {
                    self.start_load(None, false);
                }
            }
            (Purpose::Load { initial, waiter }, result) => {
                match result {
                    Ok(Some(changes)) if !destroyed => self.apply(*changes, from, received),
                    Ok(_) => self.set_default(initial),
                    Err(e) => {
                        self.report(&e);
                        self.set_default(initial);
                    }
                }
                if let Some(w) = waiter {
                    lock(&self.engine).finished_waiters.insert(w);
                    self.done.notify_all();
                }
            }
        }
        // A mutator listener that wrote while changes were applied: announce the new hashes so
        // peers fetch those writes (TinyBase's saveAfterMutated).
        if !destroyed && self.store.had_mutated() && lock(&self.auto_save).is_some() {
            self.save_hashes();
        }
    }

    fn set_default(&self, initial: Option<(Tables, Values)>) {
        if let Some((tables, values)) = initial {
            self.store.set_default_content(&tables, &values);
        }
    }
}
