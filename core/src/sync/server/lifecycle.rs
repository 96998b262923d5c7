//! Accepting connections (with the connection limit) and the graceful shutdown.

use super::*;

// ---------------------------------------------------------------------------------- shutdown

pub(super) async fn shutdown_inner(shared: Arc<Shared>) {
    if shared.shutdown_started.swap(true, Ordering::AcqRel) {
        let mut done = shared.shutdown_done.subscribe();
        let _ = done.wait_for(|d| *d).await;
        return;
    }
    shared.stop_accept.send_replace(true);
    shared.with_state(|st| st.shut_down(CLOSE_GOING_AWAY));
    // Every room's task: each applies what its room received, then saves (no timeout: that is
    // the durability promise of a clean stop).
    let tasks = std::mem::take(&mut *shared.room_tasks.lock());
    for task in tasks {
        let _ = task.await;
    }
    let deadline = tokio::time::Instant::now() + SHUTDOWN_SOCKETS_GRACE;
    loop {
        let changed = shared.active_changed.notified();
        if shared.active.load(Ordering::Acquire) == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            break;
        }
    }
    tracing::debug!("sync server shut down");
    shared.shutdown_done.send_replace(true);
}

// ---------------------------------------------------------------------------------- connections

pub(super) async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(error = %e, "sync server: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        if shared.active.fetch_add(1, Ordering::AcqRel) >= shared.cfg.max_connections {
            let guard = ActiveGuard(shared.clone());
            tokio::spawn(async move {
                refuse_connection(tcp).await;
                drop(guard);
            });
            continue;
        }
        // Shared with the socket's task when the connection is upgraded: the connection counts
        // until both are done.
        let guard = Arc::new(ActiveGuard(shared.clone()));
        tokio::spawn(serve_connection(shared.clone(), tcp, peer, guard));
    }
    tracing::debug!("sync server stopped listening");
}

pub(super) struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0.active_changed.notify_waiters();
    }
}
