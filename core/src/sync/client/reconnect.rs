//! A client's connection over time: the task that opens the socket, runs it, and reconnects
//! with backoff (then re-runs the hash exchange) when a policy says so.

use super::*;

pub(super) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub(super) type WsSink = SplitSink<WsStream, WsMessage>;
pub(super) type WsSource = SplitStream<WsStream>;

/// Aborts a task when dropped (a cancelled attempt must not leave it running).
pub(super) struct AbortOnDrop<T>(pub(super) JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An opened connection before it goes live.
pub(super) struct Opened {
    pub(super) source: WsSource,
    pub(super) tx: mpsc::UnboundedSender<Out>,
    pub(super) outstanding: Arc<AtomicUsize>,
    pub(super) abort: Arc<watch::Sender<Option<(u16, String)>>>,
    pub(super) writer: AbortOnDrop<()>,
    /// Data frames that arrived during the handshake.
    pub(super) early: Vec<String>,
}

pub(super) async fn supervise(
    shared: Arc<Shared>,
    ready: std::sync::mpsc::SyncSender<Result<(), WsClientError>>,
) {
    let mut ready = Some(ready);
    let mut closing = shared.closing.subscribe();
    let mut attempt: u32 = 0;
    let mut first_failures = 0;
    loop {
        if shared.is_closing() {
            break;
        }
        shared.set_status(ConnectionStatus::Connecting);
        let opened = tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => break,
            opened = open(&shared) => opened,
        };
        match opened {
            Ok(opened) => {
                let opened_at = Instant::now();
                let Opened {
                    source,
                    tx,
                    outstanding,
                    abort,
                    writer,
                    early,
                } = opened;
                let dirty = shared.go_live(LiveLink {
                    tx: tx.clone(),
                    outstanding,
                    abort: abort.clone(),
                });
                shared.set_status(ConnectionStatus::Connected);
                match ready.take() {
                    Some(ready) => drop(ready.send(Ok(()))),
                    None => resync(&shared, dirty),
                }
                read_loop(&shared, source, &tx, early, &mut closing).await;
                shared.go_down();
                drop(tx);
                drop(abort);
                let mut writer = writer;
                let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer.0).await;
                shared.set_status(ConnectionStatus::Disconnected);
                // The server went away: the next attempt goes to the next one.
                shared.rotate();
                // A server that accepts and then drops at once must not be retried at the
                // shortest delay forever.
                if opened_at.elapsed() >= STABLE_CONNECTION {
                    attempt = 0;
                }
            }
            Err(e) => {
                shared.set_status(ConnectionStatus::Disconnected);
                tracing::debug!(url = %shared.current_url(), error = %e, "connection attempt failed");
                shared.rotate();
                if ready.is_some() {
                    // Opening tries every URL once, one after another, before it fails.
                    first_failures += 1;
                    if first_failures < shared.urls.len() {
                        continue;
                    }
                    if let Some(ready) = ready.take() {
                        drop(ready.send(Err(e)));
                    }
                    break;
                }
            }
        }
        let Some(policy) = shared.reconnect else {
            break;
        };
        let delay = policy.delay(attempt, js::random_unit());
        attempt = attempt.saturating_add(1);
        tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    shared.go_down();
    shared.set_status(ConnectionStatus::Disconnected);
    shared.set_finished();
}

/// The full hash exchange after a reconnect, off the runtime: `load` blocks until the peers
/// answer, and the answers arrive through this runtime.
pub(super) fn resync(shared: &Arc<Shared>, dirty: bool) {
    let Some(sync) = shared.synchronizer() else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        if sync.is_destroyed() {
            return;
        }
        if dirty || sync.is_auto_saving() {
            sync.save();
        }
        if sync.is_auto_loading() {
            sync.load(None);
        }
    });
}
