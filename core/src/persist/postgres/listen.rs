//! The notification listener of one database: a connection of its own that `LISTEN`s to the
//! channels persisters subscribe to and calls them on each `NOTIFY`.
//!
//! One listening connection serves every persister of a [`super::PostgresDatabase`] (a server
//! with a thousand rooms holds two connections, not a thousand). It runs as a task on the
//! shared runtime; when the connection is lost it reconnects with backoff (100 ms doubling to
//! 5 s), listens again to every channel, and tells every subscriber [`Notice::Resync`]: a
//! change may have been missed while it was down, so load again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Config, NoTls};

use super::connection::pg_err;
use crate::persist::config::quote_identifier;
use crate::persist::{PersistError, PostgresError};

/// What a subscriber is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notice<'a> {
    /// A `NOTIFY` on its channel, with its payload.
    Payload(&'a str),
    /// The listener reconnected: notifications may have been missed.
    Resync,
}

type Callback = Arc<dyn Fn(Notice<'_>) + Send + Sync>;
type Subscribers = Mutex<HashMap<String, Vec<(u64, Callback)>>>;

enum Command {
    Listen(
        String,
        std::sync::mpsc::SyncSender<Result<(), PersistError>>,
    ),
    Unlisten(String),
}

/// How long a subscription waits for its `LISTEN` to be done.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

pub(crate) struct Listener {
    commands: mpsc::UnboundedSender<Command>,
    subscribers: Arc<Subscribers>,
    next_id: AtomicU64,
    connected: Arc<AtomicBool>,
}

/// A channel subscription; dropping it unsubscribes (and `UNLISTEN`s when it was the last).
pub(crate) struct Subscription {
    subscribers: Weak<Subscribers>,
    commands: mpsc::UnboundedSender<Command>,
    channel: String,
    id: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(subscribers) = self.subscribers.upgrade() else {
            return;
        };
        let mut map = subscribers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = map.get_mut(&self.channel) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                map.remove(&self.channel);
                let _ = self.commands.send(Command::Unlisten(self.channel.clone()));
            }
        }
    }
}

impl Listener {
    pub(crate) fn start(config: Config, label: String) -> Result<Listener, PersistError> {
        let runtime = crate::runtime::handle().map_err(|e| {
            PersistError::Postgres(PostgresError::new(
                format!("starting the runtime for {label}: {e}"),
                None,
            ))
        })?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let subscribers = Arc::new(Subscribers::default());
        let connected = Arc::new(AtomicBool::new(false));
        runtime.spawn(run(
            config,
            label,
            receiver,
            Arc::downgrade(&subscribers),
            connected.clone(),
        ));
        Ok(Listener {
            commands,
            subscribers,
            next_id: AtomicU64::new(0),
            connected,
        })
    }

    /// Whether the listening connection is up.
    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Calls `callback` for each notification on `channel` (and on each reconnection), from
    /// the runtime: it must be quick (set a flag, wake a thread). Returns once the channel is
    /// listened to (or, while the database is unreachable, at once: it is listened to on
    /// reconnection, and the subscriber gets a [`Notice::Resync`] then).
    pub(crate) fn subscribe(
        &self,
        channel: &str,
        callback: impl Fn(Notice<'_>) + Send + Sync + 'static,
    ) -> Result<Subscription, PersistError> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let first = {
            let mut map = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
            let list = map.entry(channel.to_string()).or_default();
            list.push((id, Arc::new(callback)));
            list.len() == 1
        };
        let subscription = Subscription {
            subscribers: Arc::downgrade(&self.subscribers),
            commands: self.commands.clone(),
            channel: channel.to_string(),
            id,
        };
        if first {
            let (ack, done) = std::sync::mpsc::sync_channel(1);
            let gone = || {
                PersistError::Postgres(PostgresError::new(
                    format!("listening to {channel}: the listener has stopped"),
                    None,
                ))
            };
            self.commands
                .send(Command::Listen(channel.to_string(), ack))
                .map_err(|_| gone())?;
            match done.recv_timeout(LISTEN_TIMEOUT) {
                Ok(result) => result?,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(PersistError::Postgres(PostgresError::new(
                        format!("listening to {channel}: no answer within {LISTEN_TIMEOUT:?}"),
                        None,
                    )));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Err(gone()),
            }
        }
        Ok(subscription)
    }
}

fn dispatch(subscribers: &Subscribers, channel: Option<&str>, notice: Notice<'_>) {
    let callbacks: Vec<Callback> = {
        let map = subscribers.lock().unwrap_or_else(|e| e.into_inner());
        match channel {
            Some(channel) => map
                .get(channel)
                .map(|list| list.iter().map(|(_, c)| c.clone()).collect())
                .unwrap_or_default(),
            None => map
                .values()
                .flat_map(|list| list.iter().map(|(_, c)| c.clone()))
                .collect(),
        }
    };
    for callback in callbacks {
        callback(notice);
    }
}

/// Why a listening session ended.
enum Ended {
    /// The [`Listener`] was dropped.
    Stopped,
    /// The connection failed or was lost.
    Lost(PersistError),
}

async fn run(
    config: Config,
    label: String,
    mut commands: mpsc::UnboundedReceiver<Command>,
    subscribers: Weak<Subscribers>,
    connected: Arc<AtomicBool>,
) {
    let mut backoff = BACKOFF_FIRST;
    let mut first = true;
    loop {
        match session(
            &config,
            &label,
            &mut commands,
            &subscribers,
            &connected,
            first,
            &mut backoff,
        )
        .await
        {
            Ended::Stopped => return,
            Ended::Lost(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "PostgreSQL listener disconnected");
            }
        }
        connected.store(false, Ordering::SeqCst);
        first = false;
        let sleep = tokio::time::sleep(backoff);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                command = commands.recv() => match command {
                    None => return,
                    // Listened to on reconnection, which tells every subscriber to resync.
                    Some(Command::Listen(_, ack)) => {
                        let _ = ack.send(Ok(()));
                    }
                    Some(Command::Unlisten(_)) => {}
                },
            }
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

fn listen_sql(channel: &str) -> String {
    format!("LISTEN {}", quote_identifier(channel))
}

async fn session(
    config: &Config,
    label: &str,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    subscribers: &Weak<Subscribers>,
    connected: &AtomicBool,
    first: bool,
    backoff: &mut Duration,
) -> Ended {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(e) => return Ended::Lost(pg_err(format!("connecting to {label} to listen"))(e)),
    };
    let (notices, mut received) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if notices.send(n).is_err() {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
    });
    let lost = |e| Ended::Lost(pg_err(format!("listening on {label}"))(e));
    let channels: Vec<String> = match subscribers.upgrade() {
        Some(s) => s
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect(),
        None => return Ended::Stopped,
    };
    for channel in &channels {
        if let Err(e) = client.batch_execute(&listen_sql(channel)).await {
            driver.abort();
            return lost(e);
        }
    }
    connected.store(true, Ordering::SeqCst);
    *backoff = BACKOFF_FIRST;
    if !first && let Some(s) = subscribers.upgrade() {
        dispatch(&s, None, Notice::Resync);
    }
    let ended = loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => break Ended::Stopped,
                Some(Command::Listen(channel, ack)) => {
                    let result = client.batch_execute(&listen_sql(&channel)).await;
                    let failed = result.is_err() && client.is_closed();
                    let _ = ack.send(result.map_err(pg_err(format!("listening to {channel}"))));
                    if failed {
                        break Ended::Lost(PersistError::Postgres(PostgresError::new(
                            format!("the listening connection to {label} was lost"),
                            None,
                        )));
                    }
                }
                Some(Command::Unlisten(channel)) => {
                    let _ = client
                        .batch_execute(&format!("UNLISTEN {}", quote_identifier(&channel)))
                        .await;
                }
            },
            notification = received.recv() => match notification {
                Some(n) => match subscribers.upgrade() {
                    Some(s) => dispatch(&s, Some(n.channel()), Notice::Payload(n.payload())),
                    None => break Ended::Stopped,
                },
                None => break Ended::Lost(PersistError::Postgres(PostgresError::new(
                    format!("the listening connection to {label} was lost"),
                    None,
                ))),
            },
        }
    };
    driver.abort();
    ended
}
