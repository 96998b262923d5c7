//! The MergeableStore's own methods (it has every Store method too: `store.rs`).

use super::view_common::trapped;
use super::*;

#[uniffi::export]
impl MergeableStore {
    /// A Store view of the same data (for APIs that take a Store, such as persisters).
    pub fn as_store(&self) -> Arc<Store> {
        Arc::new(Store {
            inner: self.inner.store().clone(),
        })
    }
    /// The 5-character client id at the end of this store's HLCs.
    pub fn get_client_id(&self) -> String {
        self.inner.client_id()
    }
    /// The full stamped content with hashes, as TinyBase's persisters write it (JSON).
    pub fn get_mergeable_content_json(&self) -> String {
        self.inner.get_mergeable_content_json()
    }
    /// Replaces content and stamps from [`MergeableStore::get_mergeable_content_json`]'s form.
    pub fn set_mergeable_content_json(&self, json: String) -> Result<(), TinystoreError> {
        trapped(|| self.inner.set_mergeable_content_json(&json))??;
        Ok(())
    }
    /// Merges changes (or full content) from another replica, in TinyBase's JSON; each leaf
    /// wins iff its HLC is later. An invalid payload changes nothing.
    pub fn apply_mergeable_changes_json(&self, json: String) -> Result<(), TinystoreError> {
        trapped(|| self.inner.apply_mergeable_changes_json(&json))??;
        Ok(())
    }
    /// The stamps changed by the current transaction, as JSON (`[tables, values, 1]`).
    pub fn get_transaction_mergeable_changes_json(&self, with_hashes: bool) -> String {
        let form = core::mergeable::JsonForm {
            hashes: with_hashes,
            changes: true,
            encoded: true,
        };
        self.inner
            .get_transaction_mergeable_changes(with_hashes)
            .to_json_string(form)
    }
    /// Sets content that any real write wins over (TinyBase's `setDefaultContent`), from
    /// `[tables, values]` JSON.
    pub fn set_default_content_json(&self, json: String) -> Result<(), TinystoreError> {
        let (tables, values) = parse_content(&json)?;
        trapped(|| self.inner.set_default_content(&tables, &values))?;
        Ok(())
    }
    /// Merges with another MergeableStore both ways: afterwards both hold the same content.
    /// A view function of either store that fails is a `Callback` error (that store's
    /// transaction is finished and its views stay consistent).
    pub fn merge(&self, other: Arc<MergeableStore>) -> Result<(), TinystoreError> {
        trapped(|| {
            self.inner.merge(&other.inner);
        })
    }
    /// The content hashes (equal hashes: equal content).
    pub fn get_mergeable_content_hashes(&self) -> ContentHashes {
        let (tables_hash, values_hash) = self.inner.get_mergeable_content_hashes();
        ContentHashes {
            tables_hash,
            values_hash,
        }
    }
    /// Each table's hash.
    pub fn get_mergeable_table_hashes(&self) -> HashMap<String, u32> {
        self.inner
            .get_mergeable_table_hashes()
            .into_iter()
            .collect()
    }
    /// Each value's hash.
    pub fn get_mergeable_value_hashes(&self) -> HashMap<String, u32> {
        self.inner
            .get_mergeable_value_hashes()
            .into_iter()
            .collect()
    }
}
