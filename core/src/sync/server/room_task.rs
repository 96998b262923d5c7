//! A room's life with a peer factory: wait for the path's previous room, make the peer, replay
//! the start-up buffer, feed the peer on the blocking pool, stop it when the room goes.

use super::*;

/// A room's life with a peer factory: wait for the path's previous peer to stop, make the
/// peer, replay the buffer, feed the peer in order, and stop it when the room goes.
pub(super) async fn run_room(
    shared: Arc<Shared>,
    path: String,
    generation: u64,
    previous: Option<watch::Receiver<bool>>,
    done: watch::Sender<bool>,
) {
    if let Some(mut previous) = previous {
        // An error means the previous room's task is gone: it is done either way.
        let _ = previous.wait_for(|d| *d).await;
    }
    let peer = match shared.cfg.factory.clone() {
        Some(factory) => {
            let sender = RoomSender {
                inner: Arc::new(SenderInner {
                    shared: Arc::downgrade(&shared),
                    path: path.clone(),
                    generation,
                }),
            };
            let p = path.clone();
            let loading = shared.clone();
            // The start-up buffer's patience counts from here, on the blocking thread: rooms
            // starting together queue for the blocking pool, and a room waiting its turn is
            // not slow to load (1,000 rooms starting at once kept the last ones queued > 10 s).
            let made = tokio::task::spawn_blocking(move || {
                loading.with_state(|st| st.room_loading(&p, generation));
                factory(&p, sender)
            })
            .await;
            let failure = match made {
                Ok(Ok(peer)) => Ok(peer),
                Ok(Err(e)) => {
                    tracing::error!(path, error = %e, "sync server: room could not start");
                    Err("room storage unavailable")
                }
                Err(_) => {
                    tracing::warn!(path, "sync server: room peer factory panicked");
                    Err("internal error")
                }
            };
            match failure {
                Ok(peer) => peer,
                Err(reason) => {
                    // Never a silent relay-only room: its clients would believe they are saved.
                    shared
                        .with_state(|st| st.room_failed(&path, generation, CLOSE_INTERNAL, reason));
                    None
                }
            }
        }
        None => None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let pending: Arc<(AtomicUsize, AtomicUsize)> = Arc::default();
    let inbox = peer.as_ref().map(|_| PeerInbox {
        queue: Box::new(tx),
        pending: pending.clone(),
    });
    let ready = shared.with_state(|st| st.room_ready(&path, generation, inbox));
    if let Some(peer) = peer {
        match ready {
            Ok(()) => {
                // Registered only while the peer is fed: the inspector's edits must reach a
                // synchronizer that is still running.
                let store = std::panic::catch_unwind(AssertUnwindSafe(|| peer.store()));
                if let Ok(Some(store)) = store {
                    shared.inspect_attach(&path, generation, store);
                }
                feed_peer(&peer, &path, rx, pending).await;
                shared.inspect_detach(&path, generation);
            }
            Err(orphans) => {
                let batch: Vec<PeerMessage> = orphans.into_iter().map(|(f, m)| (f, m, 0)).collect();
                apply_batch(&peer, &path, batch, pending).await;
            }
        }
        let stopping = peer.clone();
        if tokio::task::spawn_blocking(move || stopping.stop())
            .await
            .is_err()
        {
            tracing::warn!(path, "sync server: room peer panicked in stop");
        }
    }
    let _ = done.send(true);
    shared.room_done.lock().remove(&generation);
    shared.with_state(|st| st.room_stopped(&path, generation));
}

impl PeerQueue for mpsc::UnboundedSender<PeerMessage> {
    fn send(&self, message: PeerMessage) {
        // A closed receiver means the room's task is gone: nothing is waiting for it.
        let _ = mpsc::UnboundedSender::send(self, message);
    }
}

/// Hands the peer its messages in order until the room's inbox closes (the room went and
/// everything sent before was taken). The peer works on the blocking pool, never on the
/// async workers, so a room applying and saving a backlog cannot stall sockets, other rooms,
/// or `/health`.
pub(super) async fn feed_peer(
    peer: &Arc<dyn RoomPeer>,
    path: &str,
    mut rx: mpsc::UnboundedReceiver<PeerMessage>,
    pending: Arc<(AtomicUsize, AtomicUsize)>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < PEER_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        apply_batch(peer, path, batch, pending.clone()).await;
    }
}

/// Runs `receive` for each message of `batch` on the blocking pool, returning their budget as
/// each is taken.
pub(super) async fn apply_batch(
    peer: &Arc<dyn RoomPeer>,
    path: &str,
    batch: Vec<PeerMessage>,
    pending: Arc<(AtomicUsize, AtomicUsize)>,
) {
    let peer = peer.clone();
    let log_path = path.to_string();
    let work = tokio::task::spawn_blocking(move || {
        for (from, body, size) in batch {
            pending.0.fetch_sub(1, Ordering::AcqRel);
            pending.1.fetch_sub(size, Ordering::AcqRel);
            let p = &peer;
            let receive = AssertUnwindSafe(|| match body {
                PeerBody::Text(text) => p.receive_text(&from, &text),
                PeerBody::Changes(diff) => p.receive_changes(&from, *diff),
            });
            if std::panic::catch_unwind(receive).is_err() {
                tracing::warn!(path = %log_path, "sync server: room peer panicked in receive");
            }
        }
    });
    if work.await.is_err() {
        tracing::warn!(path, "sync server: room peer task failed");
    }
}
