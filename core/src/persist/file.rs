//! The file persister: TinyBase's JSON document in one UTF-8 file (spec persist.md §5).
//!
//! Saves are atomic: the document goes to a temporary file beside the target, is flushed to
//! disk, takes the target's permissions, and is renamed over it (a symlinked target is
//! resolved first), so a crash leaves either the old or the new file, never a torn one.
//!
//! ```
//! use tinystore_core::persist::{Persister, file::FilePersistence};
//! use tinystore_core::Store;
//! let dir = std::env::temp_dir().join(format!("tinystore-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("store.json");
//! let store = Store::new();
//! store.set_value("open", true);
//! Persister::new(&store, FilePersistence::new(&path)).save().unwrap();
//! assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"[{},{"open":true}]"#);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::content::Changes;

use super::{PersistError, Persisted, Persistence, Target};

/// A file holding TinyBase's JSON document.
///
/// ```
/// use tinystore_core::persist::{Persister, file::FilePersistence};
/// use tinystore_core::Store;
/// let path = std::env::temp_dir().join(format!("tinystore-doc-file-{}.json", std::process::id()));
/// std::fs::write(&path, r#"[{"pets":{"fido":{"legs":4}}},{}]"#)?;
/// let store = Store::new();
/// Persister::new(&store, FilePersistence::new(&path)).load(None)?;
/// assert_eq!(store.get_cell("pets", "fido", "legs"), Some(4.into()));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FilePersistence {
    path: PathBuf,
    /// The document last read or written, and the file's (modified time, length) then: a
    /// change by anyone else shows as a different file.
    last: Option<(String, Option<(SystemTime, u64)>)>,
}

impl FilePersistence {
    /// Storage in the file at `path` (created on the first save).
    ///
    /// ```
    /// use tinystore_core::persist::{Persister, file::FilePersistence};
    /// use tinystore_core::Store;
    /// let name = format!("tinystore-doc-new-{}.json", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// let persister = Persister::new(&Store::new(), FilePersistence::new(&path));
    /// // Nothing stored yet: the load keeps the store as it is and creates no file.
    /// persister.load(None)?;
    /// assert!(!path.exists());
    /// persister.save()?;
    /// assert!(path.exists());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(path: impl AsRef<Path>) -> FilePersistence {
        FilePersistence {
            path: path.as_ref().to_path_buf(),
            last: None,
        }
    }

    /// The file's path (TinyBase's `getFilePath`).
    ///
    /// ```
    /// use tinystore_core::persist::file::FilePersistence;
    /// let file = FilePersistence::new("data/store.json");
    /// assert_eq!(file.path(), std::path::Path::new("data/store.json"));
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let meta = fs::metadata(&self.path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }
}

impl Persistence for FilePersistence {
    fn read(&mut self) -> Result<Option<Persisted>, PersistError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.last = None;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            PersistError::content(format!("{} is not UTF-8 text", self.path.display()))
        })?;
        self.last = Some((text.clone(), self.stamp()));
        Ok(Some(Persisted::Json(text)))
    }

    fn write(&mut self, target: &Target, _changes: Option<&Changes>) -> Result<(), PersistError> {
        let document = target.document();
        write_atomically(&self.path, document.as_bytes())?;
        self.last = Some((document, self.stamp()));
        Ok(())
    }

    fn writes_changes(&self) -> bool {
        false
    }

    fn changed(&mut self) -> Result<bool, PersistError> {
        let now = self.stamp();
        let Some((text, stamp)) = &self.last else {
            return Ok(now.is_some());
        };
        if now.is_some() && now == *stamp {
            return Ok(false);
        }
        match fs::read(&self.path) {
            Ok(bytes) => Ok(bytes != text.as_bytes()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, target's permissions, rename,
/// fsync of the directory. A crash leaves either the old file or the new one, complete; a
/// failure leaves the old file and no temporary file. The error's
/// [`source`](std::error::Error::source) is the [`std::io::Error`].
///
/// ```
/// use tinystore_core::persist::file::write_atomically;
/// let dir = std::env::temp_dir().join(format!("tinystore-doc-atomic-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("out.json");
/// write_atomically(&path, b"[{},{}]").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"[{},{}]");
/// assert!(write_atomically(&dir.join("missing/out.json"), b"x").is_err());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let target = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let mut tmp_name = target.file_name().unwrap_or_default().to_os_string();
    // 16 random characters make concurrent temporary files distinct.
    tmp_name.push(format!(
        ".{}.tmp",
        crate::js::random_string(crate::js::LOWER_BASE32, 16)
    ));
    let tmp = target.with_file_name(tmp_name);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        if let Ok(meta) = fs::metadata(&target) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)?;
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename itself durable; not every platform can open a directory.
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok::<(), std::io::Error>(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    Ok(result?)
}
