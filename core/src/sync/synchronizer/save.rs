//! What a synchronizer sends on its own: every message through its transport, its hashes
//! when it saves, and each local transaction's changes when it auto-saves.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{APPLYING, Inner};
use crate::mergeable::JsonForm;
use crate::status::Status;
use crate::sync::protocol::{self, MessageType};

impl Inner {
    pub(super) fn send(
        &self,
        to: Option<&str>,
        request_id: Option<&str>,
        message: MessageType,
        body: &str,
    ) {
        if self.destroyed.load(Ordering::SeqCst) {
            return;
        }
        self.sends.fetch_add(1, Ordering::SeqCst);
        if let Some(f) = &self.on_send {
            f(to, request_id, message, body);
        }
        self.transport.send(
            to,
            message,
            protocol::encode_message(request_id, message, body),
        );
    }

    pub(super) fn save_hashes(self: &Arc<Self>) {
        self.status.count_save();
        self.set_status(Status::Saving);
        let (t, v) = self.store.get_mergeable_content_hashes();
        let tx = protocol::transaction_id();
        self.send(
            None,
            Some(&tx),
            MessageType::ContentHashes,
            &format!("[{t},{v}]"),
        );
        self.set_status(Status::Idle);
    }

    /// The auto-save listener: a transaction's changes go out as a ContentDiff, except the
    /// transactions that apply incoming changes (those are not echoed; see `apply`).
    pub(super) fn auto_save(self: &Arc<Self>) {
        if self.destroyed.load(Ordering::SeqCst) || APPLYING.with(|a| a.get()) {
            return;
        }
        let changes = self.store.get_transaction_mergeable_changes(false);
        if changes.is_empty() {
            return;
        }
        self.status.count_save();
        self.set_status(Status::Saving);
        let body = changes.to_json_string(JsonForm::CHANGES);
        let tx = protocol::transaction_id();
        self.send(None, Some(&tx), MessageType::ContentDiff, &body);
        self.set_status(Status::Idle);
    }
}
