//! The Checkpoints object over a Store (TinyBase's `createCheckpoints`): undo and redo.

use super::*;

use tinystore_core::views as cviews;

use super::view_common::{ViewEvent, ViewListener, notify, trapped, view_object};

/// The checkpoint ids: those before the current one (oldest first), the current one (`None`
/// when the store changed since), and those after it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CheckpointIds {
    /// Checkpoints to go back to, oldest first.
    pub backward: Vec<String>,
    /// The current checkpoint, `None` if the store changed since.
    pub current: Option<String>,
    /// Checkpoints to go forward to.
    pub forward: Vec<String>,
}

view_object!(
    /// Undo and redo of a store's changes (TinyBase's `Checkpoints`).
    Checkpoints(cviews::Checkpoints),
    /// Creates a Checkpoints object over a store, with checkpoint `"0"`.
    create_checkpoints = cviews::create_checkpoints
);

#[uniffi::export]
impl Checkpoints {
    /// Records the store's changes since the last checkpoint; returns the new id.
    pub fn add_checkpoint(&self, label: String) -> String {
        self.inner.add_checkpoint(&label)
    }
    /// Labels a checkpoint.
    pub fn set_checkpoint(&self, checkpoint_id: String, label: String) {
        self.inner.set_checkpoint(&checkpoint_id, &label);
    }
    /// The checkpoint ids.
    pub fn get_checkpoint_ids(&self) -> CheckpointIds {
        let (backward, current, forward) = self.inner.get_checkpoint_ids();
        CheckpointIds {
            backward,
            current,
            forward,
        }
    }
    /// Whether a checkpoint exists.
    pub fn has_checkpoint(&self, checkpoint_id: String) -> bool {
        self.inner.has_checkpoint(&checkpoint_id)
    }
    /// A checkpoint's label.
    pub fn get_checkpoint(&self, checkpoint_id: String) -> Option<String> {
        self.inner.get_checkpoint(&checkpoint_id)
    }
    /// Undoes to the previous checkpoint; a failing view function's error is returned.
    pub fn go_backward(&self) -> Result<(), TinystoreError> {
        trapped(|| {
            self.inner.go_backward();
        })
    }
    /// Redoes to the next checkpoint.
    pub fn go_forward(&self) -> Result<(), TinystoreError> {
        trapped(|| {
            self.inner.go_forward();
        })
    }
    /// Goes backward or forward to a checkpoint.
    pub fn go_to(&self, checkpoint_id: String) -> Result<(), TinystoreError> {
        trapped(|| {
            self.inner.go_to(&checkpoint_id);
        })
    }
    /// Forgets every checkpoint and starts again at the store's current state.
    pub fn clear(&self) {
        self.inner.clear();
    }
    /// Forgets the checkpoints after the current one.
    pub fn clear_forward(&self) {
        self.inner.clear_forward();
    }
    /// How many checkpoints to keep (default 100).
    pub fn set_size(&self, size: u64) {
        self.inner.set_size(size as usize);
    }
    /// Listens to the checkpoint ids.
    pub fn add_checkpoint_ids_listener(&self, listener: Arc<dyn ViewListener>) -> u64 {
        self.inner
            .add_checkpoint_ids_listener(move |_| notify(&listener, ViewEvent::Ids))
            .0 as u64
    }
    /// Listens to a checkpoint's label (`None`: any).
    pub fn add_checkpoint_listener(
        &self,
        checkpoint_id: Option<String>,
        listener: Arc<dyn ViewListener>,
    ) -> u64 {
        let f = move |_: &cviews::Checkpoints, id: &str| {
            notify(
                &listener,
                ViewEvent::Checkpoint {
                    checkpoint_id: id.into(),
                },
            )
        };
        self.inner
            .add_checkpoint_listener(checkpoint_id.as_deref(), f)
            .0 as u64
    }
    /// Listener counts (`checkpoint_ids`, `checkpoint`).
    pub fn get_listener_stats(&self) -> HashMap<String, u64> {
        let s = self.inner.get_listener_stats();
        [
            ("checkpoint_ids", s.checkpoint_ids),
            ("checkpoint", s.checkpoint),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v as u64))
        .collect()
    }
}
