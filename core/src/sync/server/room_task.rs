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
    shared.with_state(|st| {
        if let Some(Room {
            phase: Phase::Starting { loading, .. },
            ..
        }) = st
            .rooms
            .get_mut(&path)
            .filter(|r| r.generation == generation)
        {
            *loading = true;
        }
    });
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
            let made = tokio::task::spawn_blocking(move || factory(&p, sender)).await;
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
                    let shared2 = shared.clone();
                    shared.with_state(|st| {
                        let conns: Vec<u64> = st
                            .rooms
                            .get(&path)
                            .filter(|r| r.generation == generation)
                            .map(|r| r.clients.values().map(|m| m.conn).collect())
                            .unwrap_or_default();
                        for conn in conns {
                            close_conn(st, &shared2, conn, CLOSE_INTERNAL, reason);
                        }
                    });
                    None
                }
            }
        }
        None => None,
    };
    let has_peer = peer.is_some();
    let shared2 = shared.clone();
    let inbox = shared.with_state(|st| {
        let Some(room) = st
            .rooms
            .get_mut(&path)
            .filter(|r| r.generation == generation)
        else {
            // The room went while its peer started: what it buffered for the peer waits here.
            return Err(st.orphans.remove(&generation).unwrap_or_default());
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        if has_peer {
            room.peer_inbox = Some(PeerInbox {
                tx,
                pending: pending.clone(),
            });
        }
        let phase = std::mem::replace(&mut room.phase, Phase::Ready);
        if let Phase::Starting { buffer, .. } = phase {
            for b in buffer {
                if let Some(c) = st.conns.get_mut(&b.conn) {
                    c.buffered.0 -= b.payloads;
                    c.buffered.1 -= b.bytes;
                }
                relay(&shared2, st, &path, &b.from, &b.to, &b.remainders, true);
            }
        }
        tracing::debug!(path, peer = has_peer, "room ready");
        Ok(has_peer.then_some((rx, pending)))
    });
    if let Some(peer) = peer {
        match inbox {
            Ok(Some((rx, pending))) => feed_peer(&peer, &path, rx, pending).await,
            Ok(None) => {}
            Err(orphans) => {
                let batch: Vec<PeerMessage> = orphans.into_iter().map(|(f, m)| (f, m, 0)).collect();
                let none = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
                apply_batch(&peer, &path, batch, none).await;
            }
        }
        let stopping = peer.clone();
        if tokio::task::spawn_blocking(move || stopping.stop())
            .await
            .is_err()
        {
            tracing::warn!(path, "sync server: room peer panicked in stop");
        }
    } else {
        shared.with_state(|st| st.orphans.remove(&generation));
    }
    let _ = done.send(true);
    let mut st = shared.state.lock();
    if st
        .last_done
        .get(&path)
        .is_some_and(|(g, _)| *g == generation)
    {
        st.last_done.remove(&path);
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
        for (from, text, size) in batch {
            pending.0.fetch_sub(1, Ordering::AcqRel);
            pending.1.fetch_sub(size, Ordering::AcqRel);
            let p = &peer;
            if std::panic::catch_unwind(AssertUnwindSafe(|| p.receive_text(&from, &text))).is_err()
            {
                tracing::warn!(path = %log_path, "sync server: room peer panicked in receive");
            }
        }
    });
    if work.await.is_err() {
        tracing::warn!(path, "sync server: room peer task failed");
    }
}
