//! One PostgreSQL database as persisters use it: a command connection (loads and saves, one
//! transaction at a time) that reconnects when it was lost, and the notification listener
//! (`listen.rs`) shared by every persister on the database.
//!
//! The driver is `tokio-postgres`: its connections run on the shared runtime
//! ([`crate::runtime`]), and the persisters' synchronous calls wait for their statements with
//! a plain `block_on`, which does not need to be on the runtime (the client talks to its
//! connection task through channels).

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

use super::listen::Listener;
use crate::persist::{PersistError, PostgresError};

/// How many command connections a database handle opens at most: loads and saves of
/// different persisters (a server's rooms) run side by side on them.
const COMMAND_CONNECTIONS: usize = 4;

/// How long connecting may take before it fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A PostgreSQL database that persisters share: one command connection, opened at once (so an
/// unreachable database is an error here, not at the first save), and one listening connection
/// for `LISTEN`/`NOTIFY`, opened when a persister first auto-loads. Both reconnect by
/// themselves after the connection was lost (a database restart, a network failure): the
/// command connection on its next use, the listener in the background with backoff.
///
/// Cloning is cheap and shares the connections.
///
/// ```no_run
/// use tinystore_core::persist::postgres::PostgresDatabase;
/// let db = PostgresDatabase::connect("postgres://postgres@127.0.0.1:5432/app").unwrap();
/// assert!(db.is_connected());
/// ```
#[derive(Clone)]
pub struct PostgresDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// `host:port/dbname`, for messages (never the password).
    label: String,
    /// Command connections, each used by one call at a time (opened on first use).
    commands: Vec<Mutex<Option<Client>>>,
    listener: OnceLock<Listener>,
}

impl std::fmt::Debug for PostgresDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDatabase")
            .field("database", &self.inner.label)
            .finish_non_exhaustive()
    }
}

/// An error of the driver while doing `context`.
pub(crate) fn pg_err(
    context: impl Into<Arc<str>>,
) -> impl FnOnce(tokio_postgres::Error) -> PersistError {
    move |e| PersistError::Postgres(PostgresError::new(context, Some(e)))
}

/// Waits for `future` on this thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

fn label_of(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// Opens a connection whose I/O runs on the shared runtime.
pub(crate) async fn open(config: &Config, label: &str) -> Result<Client, PersistError> {
    let runtime = crate::runtime::handle().map_err(|e| {
        PersistError::Postgres(PostgresError::new(
            format!("starting the runtime for {label}: {e}"),
            None,
        ))
    })?;
    let config = config.clone();
    let context = format!("connecting to {label}");
    let connecting = runtime.spawn(async move {
        let (client, connection) = config.connect(NoTls).await?;
        // Ends when the client is dropped or the server goes away.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a PostgreSQL connection ended");
            }
        });
        // A saved JSON document is megabytes of text that PostgreSQL compresses into TOAST:
        // lz4 does that several times faster than the default pglz, and every reader
        // (TinyBase's too) decompresses either transparently. A server built without lz4, or
        // older than 14, refuses the setting and keeps its default.
        if let Err(e) = client
            .batch_execute("SET default_toast_compression=lz4")
            .await
        {
            tracing::debug!(error = %e, "PostgreSQL keeps its default TOAST compression");
        }
        Ok::<_, tokio_postgres::Error>(client)
    });
    match connecting.await {
        Ok(result) => result.map_err(pg_err(context)),
        Err(e) => Err(PersistError::Postgres(PostgresError::new(
            format!("{context}: {e}"),
            None,
        ))),
    }
}

impl PostgresDatabase {
    /// Connects to the database at `url` (`postgres://user:password@host:port/dbname`, or
    /// libpq's `key=value` form). Fails when the URL is malformed or the database cannot be
    /// reached within five seconds.
    pub fn connect(url: &str) -> Result<PostgresDatabase, PersistError> {
        let mut config: Config = url.parse().map_err(|e: tokio_postgres::Error| {
            PersistError::Postgres(PostgresError::new(
                format!("reading the PostgreSQL URL: {e}"),
                None,
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A peer that vanished without closing is noticed within a minute, not hours.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("tinystore");
        }
        let label = label_of(&config);
        let client = block_on(open(&config, &label))?;
        Ok(PostgresDatabase {
            inner: Arc::new(Inner {
                config,
                label,
                commands: std::iter::once(Mutex::new(Some(client)))
                    .chain((1..COMMAND_CONNECTIONS).map(|_| Mutex::new(None)))
                    .collect(),
                listener: OnceLock::new(),
            }),
        })
    }

    /// `host:port/dbname` of this database.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Whether the command connection is up (it reconnects on its next use when it is not).
    pub fn is_connected(&self) -> bool {
        self.inner.commands[0]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|c| !c.is_closed())
    }

    /// Whether the listening connection (auto-load's notifications) is up; `false` before any
    /// persister auto-loads and while it reconnects.
    pub fn is_listening(&self) -> bool {
        self.inner
            .listener
            .get()
            .is_some_and(Listener::is_connected)
    }

    /// Runs `work` with the command connection to itself, reconnecting first if it was lost.
    pub(crate) fn with_client<T>(
        &self,
        work: impl AsyncFnOnce(&Client) -> Result<T, PersistError>,
    ) -> Result<T, PersistError> {
        // A free connection, the first opened ones first; when all are busy, wait for one.
        let commands = &self.inner.commands;
        let mut slot = commands
            .iter()
            .find_map(|m| m.try_lock().ok())
            .unwrap_or_else(|| {
                let i = (crate::js::random_u64() % commands.len() as u64) as usize;
                commands[i].lock().unwrap_or_else(|e| e.into_inner())
            });
        let client = match slot.take().filter(|c| !c.is_closed()) {
            Some(client) => client,
            None => block_on(open(&self.inner.config, &self.inner.label))?,
        };
        let result = block_on(work(&client));
        // A connection that broke during `work` is dropped: the next call reconnects.
        if !client.is_closed() {
            *slot = Some(client);
        }
        result
    }

    /// Runs `work` in one transaction (`BEGIN` … `COMMIT`, `ROLLBACK` when it fails).
    pub(crate) fn transaction<T>(
        &self,
        work: impl AsyncFnOnce(&Client) -> Result<T, PersistError>,
    ) -> Result<T, PersistError> {
        self.with_client(async |client| {
            client
                .batch_execute("BEGIN")
                .await
                .map_err(pg_err("beginning a transaction"))?;
            match work(client).await {
                Ok(value) => {
                    client
                        .batch_execute("COMMIT")
                        .await
                        .map_err(pg_err("committing"))?;
                    Ok(value)
                }
                Err(e) => {
                    // Nothing to undo when the connection itself is gone.
                    let _ = client.batch_execute("ROLLBACK").await;
                    Err(e)
                }
            }
        })
    }

    /// The notification listener, started on first use.
    pub(crate) fn listener(&self) -> Result<&Listener, PersistError> {
        if let Some(listener) = self.inner.listener.get() {
            return Ok(listener);
        }
        let listener = Listener::start(self.inner.config.clone(), self.inner.label.clone())?;
        Ok(self.inner.listener.get_or_init(|| listener))
    }
}
