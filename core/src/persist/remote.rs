//! The remote persister: a store loaded from a URL and posted back to one, with the requests
//! TinyBase's `createRemotePersister` makes, so a server written for TinyBase's persister
//! serves tinystore unchanged (the seeds' "read-only cloud data").
//!
//! - load: `GET loadUrl`, with `If-None-Match: <ETag>` once a response carried an `ETag`; a
//!   `304 Not Modified` means the document last loaded is still current;
//! - save: `POST saveUrl` with `Content-Type: application/json` and the store's plain content
//!   (`[tables, values]`, also for a MergeableStore: TinyBase's remote persister is
//!   store-only and sends what `getContent()` returns);
//! - auto-load: every interval a `HEAD loadUrl` with `If-None-Match`; an answer that is not
//!   `304` and carries an `ETag` other than the last one makes the persister load again.
//!
//! Any answer outside 2xx (a `304` where it means "unchanged" apart), a connection or TLS
//! failure, a timeout or a body that is not a store is an error of the call (and of the
//! persister's status listeners in auto-load); the store is left as it was. HTTPS uses rustls
//! with the Web PKI roots; redirects are followed (up to 10).
//!
//! ```no_run
//! use tinystore_core::persist::remote::RemotePersistence;
//! use tinystore_core::persist::Persister;
//! use tinystore_core::Store;
//!
//! let store = Store::new();
//! let remote = RemotePersistence::new("https://example.com/pets.json")
//!     .with_save_url("https://example.com/pets");
//! let persister = Persister::new(&store, remote);
//! persister.load(None)?;
//! store.set_cell("pets", "fido", "species", "dog");
//! persister.save()?;
//! # Ok::<(), tinystore_core::persist::PersistError>(())
//! ```

use std::time::Duration;

use ureq::Agent;
use ureq::http::{Response, StatusCode};

use crate::content::Changes;

use super::{HttpError, PersistError, Persisted, Persistence, Target};

/// TinyBase's default auto-load interval for the remote persister (5 seconds).
pub const DEFAULT_REMOTE_AUTO_LOAD_INTERVAL: Duration = Duration::from_secs(5);

/// How long one request may take, connecting and reading included, unless configured.
pub const DEFAULT_REMOTE_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest document a load accepts (a larger body is an error, not a stalled process).
const MAX_BODY: u64 = 1 << 30;

/// A store kept at a URL (TinyBase's `RemotePersister`); see the
/// [module documentation](self).
///
/// ```no_run
/// use tinystore_core::persist::{Persister, remote::RemotePersistence};
/// use tinystore_core::Store;
/// let store = Store::new();
/// let remote = RemotePersistence::new("https://example.com/pets.json");
/// let interval = remote.auto_load_interval();
/// // Loads now, then again whenever the server's `ETag` changes.
/// Persister::new(&store, remote).start_auto_load(None, interval)?;
/// assert!(store.has_tables());
/// # Ok::<(), tinystore_core::persist::PersistError>(())
/// ```
#[derive(Debug)]
pub struct RemotePersistence {
    load_url: String,
    save_url: Option<String>,
    auto_load_interval: Duration,
    agent: Agent,
    /// The `ETag` of the last loaded document (empty when it had none), as TinyBase keeps it.
    last_etag: String,
    /// The last loaded document, served again when the server answers `304`.
    last_content: Option<String>,
}

impl RemotePersistence {
    /// Loads from `load_url`; without [`with_save_url`](Self::with_save_url) saving is an
    /// error ([`PersistError::Unsupported`]): the data is read-only here.
    ///
    /// ```
    /// use tinystore_core::persist::{PersistError, Persister, remote::RemotePersistence};
    /// use tinystore_core::Store;
    /// let remote = RemotePersistence::new("https://example.com/pets.json");
    /// let persister = Persister::new(&Store::new(), remote);
    /// // Refused before any request is made.
    /// assert!(matches!(persister.save(), Err(PersistError::Unsupported(_))));
    /// ```
    pub fn new(load_url: impl Into<String>) -> RemotePersistence {
        RemotePersistence {
            load_url: load_url.into(),
            save_url: None,
            auto_load_interval: DEFAULT_REMOTE_AUTO_LOAD_INTERVAL,
            agent: agent(DEFAULT_REMOTE_TIMEOUT),
            last_etag: String::new(),
            last_content: None,
        }
    }

    /// Saves by posting to `save_url` (TinyBase's `saveUrl`).
    ///
    /// ```
    /// use tinystore_core::persist::remote::RemotePersistence;
    /// let remote = RemotePersistence::new("https://example.com/pets.json")
    ///     .with_save_url("https://example.com/pets");
    /// assert_eq!(remote.urls().1, Some("https://example.com/pets"));
    /// ```
    pub fn with_save_url(mut self, save_url: impl Into<String>) -> RemotePersistence {
        self.save_url = Some(save_url.into());
        self
    }

    /// The polling interval auto-load is meant to use (TinyBase's `autoLoadIntervalSeconds`,
    /// default 5 s); see [`auto_load_interval`](Self::auto_load_interval).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tinystore_core::persist::remote::RemotePersistence;
    /// let remote = RemotePersistence::new("https://example.com/pets.json")
    ///     .with_auto_load_interval(Duration::from_secs(60));
    /// assert_eq!(remote.auto_load_interval(), Duration::from_secs(60));
    /// ```
    pub fn with_auto_load_interval(mut self, interval: Duration) -> RemotePersistence {
        self.auto_load_interval = interval;
        self
    }

    /// The longest one request may take (default 30 s).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tinystore_core::persist::{PersistErrorKind, Persister, remote::RemotePersistence};
    /// use tinystore_core::Store;
    /// // A slow server fails the load after a second instead of thirty.
    /// let remote = RemotePersistence::new("https://slow.example.com/pets.json")
    ///     .with_timeout(Duration::from_secs(1));
    /// let err = Persister::new(&Store::new(), remote).load(None).unwrap_err();
    /// assert_eq!(err.kind(), PersistErrorKind::Storage);
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> RemotePersistence {
        self.agent = agent(timeout);
        self
    }

    /// The interval to give [`Persister::start_auto_load`](super::Persister::start_auto_load).
    ///
    /// ```
    /// use tinystore_core::persist::remote::{DEFAULT_REMOTE_AUTO_LOAD_INTERVAL, RemotePersistence};
    /// let remote = RemotePersistence::new("https://example.com/pets.json");
    /// assert_eq!(remote.auto_load_interval(), DEFAULT_REMOTE_AUTO_LOAD_INTERVAL);
    /// ```
    pub fn auto_load_interval(&self) -> Duration {
        self.auto_load_interval
    }

    /// `[loadUrl, saveUrl]` (TinyBase's `getUrls`).
    ///
    /// ```
    /// use tinystore_core::persist::remote::RemotePersistence;
    /// let remote = RemotePersistence::new("https://example.com/pets.json");
    /// assert_eq!(remote.urls(), ("https://example.com/pets.json", None));
    /// ```
    pub fn urls(&self) -> (&str, Option<&str>) {
        (&self.load_url, self.save_url.as_deref())
    }

    fn get(&self, method: &'static str) -> Result<Response<ureq::Body>, PersistError> {
        let request = match method {
            "HEAD" => self.agent.head(&self.load_url),
            _ => self.agent.get(&self.load_url),
        };
        let request = if self.last_etag.is_empty() {
            request
        } else {
            request.header("If-None-Match", &self.last_etag)
        };
        request
            .call()
            .map_err(|e| http_error(method, &self.load_url, None, Some(e)))
    }
}

fn agent(timeout: Duration) -> Agent {
    Agent::config_builder()
        .timeout_global(Some(timeout))
        // Statuses are ours to judge: a 304 is an answer, not a failure.
        .http_status_as_error(false)
        .max_redirects(10)
        .build()
        .into()
}

fn http_error(
    method: &str,
    url: &str,
    status: Option<StatusCode>,
    cause: Option<ureq::Error>,
) -> PersistError {
    PersistError::Http(HttpError::new(
        format!("{method} {url}"),
        status.map(|s| s.as_u16()),
        cause,
    ))
}

fn etag_of(response: &Response<ureq::Body>) -> String {
    response
        .headers()
        .get("ETag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

impl Persistence for RemotePersistence {
    fn read(&mut self) -> Result<Option<Persisted>, PersistError> {
        let mut response = self.get("GET")?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED
            && let Some(content) = &self.last_content
        {
            return Ok(Some(Persisted::Json(content.clone())));
        }
        if !status.is_success() {
            return Err(http_error("GET", &self.load_url, Some(status), None));
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| http_error("GET", &self.load_url, Some(status), Some(e)))?;
        // As TinyBase: a body that is not JSON keeps the last ETag (the next poll still sees
        // the new document as new).
        crate::json::parse(&text).map_err(PersistError::content_from)?;
        self.last_etag = etag_of(&response);
        self.last_content = Some(text.clone());
        Ok(Some(Persisted::Json(text)))
    }

    fn write(&mut self, target: &Target, _changes: Option<&Changes>) -> Result<(), PersistError> {
        let Some(url) = &self.save_url else {
            return Err(PersistError::Unsupported("saving without a save URL"));
        };
        // TinyBase's remote persister is store-only: a MergeableStore posts its plain content.
        let body = target.store().get_json();
        let response = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .map_err(|e| http_error("POST", url, None, Some(e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(http_error("POST", url, Some(status), None));
        }
        Ok(())
    }

    fn writes_changes(&self) -> bool {
        false
    }

    fn changed(&mut self) -> Result<bool, PersistError> {
        let response = self.get("HEAD")?;
        let status = response.status();
        if !status.is_success() && status != StatusCode::NOT_MODIFIED {
            return Err(http_error("HEAD", &self.load_url, Some(status), None));
        }
        Ok(status != StatusCode::NOT_MODIFIED && etag_of(&response) != self.last_etag)
    }
}
