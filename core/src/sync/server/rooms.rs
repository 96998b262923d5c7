//! The rooms: joining and leaving, room start and teardown, the start-up buffer, and the
//! relay of each validated message to its recipients and the room peer. Runs under the
//! server's state lock; never blocks.

use super::*;

// ---------------------------------------------------------------------------------- rooms

pub(super) enum JoinError {
    ShuttingDown,
    Duplicate,
    TooManyRooms,
}

/// Adds a client to a room, starting the room if needed. `ack` is queued to the socket in
/// the same critical section, so it precedes anything relayed to the new member.
pub(super) fn join(
    shared: &Arc<Shared>,
    st: &mut State,
    conn: u64,
    path: &str,
    client_id: &str,
    channel: Option<&str>,
) -> Result<(), JoinError> {
    if st.shutting_down {
        return Err(JoinError::ShuttingDown);
    }
    if !st.conns.contains_key(&conn) {
        return Err(JoinError::ShuttingDown);
    }
    match st.rooms.get(path) {
        Some(room) => {
            if room.clients.contains_key(client_id) {
                return Err(JoinError::Duplicate);
            }
        }
        None => {
            if shared
                .cfg
                .max_rooms
                .is_some_and(|max| st.rooms.len() >= max)
            {
                tracing::warn!(path, "sync server: room limit reached, refusing a new room");
                return Err(JoinError::TooManyRooms);
            }
            start_room(shared, st, path)
        }
    }
    let Some(room) = st.rooms.get_mut(path) else {
        return Err(JoinError::ShuttingDown);
    };
    room.clients.insert(
        client_id.to_string(),
        Member {
            conn,
            channel: channel.map(str::to_string),
        },
    );
    if let Some(entry) = st.conns.get_mut(&conn) {
        entry.paths.push(path.to_string());
    }
    st.events
        .push(Event::Client(path.to_string(), client_id.to_string(), true));
    tracing::debug!(path, client_id, "client joined");
    Ok(())
}

pub(super) fn start_room(shared: &Arc<Shared>, st: &mut State, path: &str) {
    let generation = shared.next_id();
    let previous = st.last_done.remove(path).map(|(_, rx)| rx);
    let (done_tx, done_rx) = watch::channel(false);
    let phase = if shared.cfg.factory.is_some() {
        Phase::Starting {
            buffer: Vec::new(),
            payloads: 0,
            bytes: 0,
            epoch: shared.next_id(),
            loading: false,
        }
    } else {
        let _ = done_tx.send(true);
        Phase::Ready
    };
    st.rooms.insert(
        path.to_string(),
        Room {
            generation,
            clients: IndexMap::new(),
            phase,
            peer_inbox: None,
            done: done_rx,
        },
    );
    st.events.push(Event::Path(path.to_string(), true));
    tracing::debug!(path, "room started");
    if shared.cfg.factory.is_some() {
        st.room_tasks.retain(|t| !t.is_finished());
        let task = shared.handle.spawn(run_room(
            shared.clone(),
            path.to_string(),
            generation,
            previous,
            done_tx,
        ));
        st.room_tasks.push(task);
    }
}

/// Removes a client from a room (if `conn` is still that member), stopping the room when it
/// empties.
pub(super) fn leave(st: &mut State, conn: u64, path: &str) {
    let Some(room) = st.rooms.get_mut(path) else {
        return;
    };
    let Some(client_id) = room
        .clients
        .iter()
        .find(|(_, m)| m.conn == conn)
        .map(|(id, _)| id.clone())
    else {
        return;
    };
    room.clients.shift_remove(&client_id);
    let emptied = room.clients.is_empty();
    keep_buffered_of_gone(st, path, conn);
    if let Some(entry) = st.conns.get_mut(&conn) {
        entry.paths.retain(|p| p != path);
    }
    st.events
        .push(Event::Client(path.to_string(), client_id.clone(), false));
    tracing::debug!(path, client_id, "client left");
    if emptied {
        teardown_room(st, path);
    }
}

pub(super) fn teardown_room(st: &mut State, path: &str) {
    // What a starting room buffered for its peer was received: the peer still gets it.
    let mut orphans: Vec<(String, String)> = Vec::new();
    {
        let State { rooms, conns, .. } = &mut *st;
        if let Some(Room {
            phase: Phase::Starting { buffer, .. },
            ..
        }) = rooms.get_mut(path)
        {
            for b in std::mem::take(buffer) {
                if let Some(c) = conns.get_mut(&b.conn) {
                    c.buffered.0 -= b.payloads;
                    c.buffered.1 -= b.bytes;
                }
                if b.from != SERVER_CLIENT_ID && (b.to.is_empty() || b.to == SERVER_CLIENT_ID) {
                    orphans.push((b.from, joined_remainder(&b.remainders)));
                }
            }
        }
    }
    let Some(room) = st.rooms.shift_remove(path) else {
        return;
    };
    if !orphans.is_empty() {
        st.orphans.insert(room.generation, orphans);
    }
    // Dropping the inbox ends the peer task, which then calls `stop()`.
    drop(room.peer_inbox);
    // Relay-only rooms are done at once: nothing to wait for, nothing to remember.
    if !*room.done.borrow() {
        st.last_done
            .insert(path.to_string(), (room.generation, room.done));
    }
    st.events.push(Event::Path(path.to_string(), false));
    tracing::debug!(path, "room stopped");
}

/// Hands a leaving socket's buffered payloads to the room: they stay for the peer and the
/// other clients, but no longer count against the socket.
pub(super) fn keep_buffered_of_gone(st: &mut State, path: &str, conn: u64) {
    let State { rooms, conns, .. } = st;
    let Some(Room {
        phase: Phase::Starting { buffer, .. },
        ..
    }) = rooms.get_mut(path)
    else {
        return;
    };
    for b in buffer.iter_mut().filter(|b| b.conn == conn) {
        if let Some(c) = conns.get_mut(&conn) {
            c.buffered.0 -= b.payloads;
            c.buffered.1 -= b.bytes;
        }
        b.conn = GONE;
    }
}

/// Closes a socket: queues the close frame ahead of its pending payloads and takes it out of
/// every room at once, so nothing more is relayed to or from it.
pub(super) fn close_conn(st: &mut State, shared: &Shared, conn: u64, code: u16, reason: &str) {
    let Some(entry) = st.conns.get(&conn) else {
        return;
    };
    if !entry.out.is_closing() {
        match code {
            crate::sync::protocol::CLOSE_INVALID => {
                shared.closed_invalid.fetch_add(1, Ordering::Relaxed);
            }
            crate::sync::protocol::CLOSE_OVERFLOW => {
                shared.closed_overflow.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        tracing::debug!(conn, code, reason, "closing socket");
        entry.out.close(Some((code, truncate_reason(reason))));
    }
    detach(st, conn);
}

/// Takes a socket out of all its rooms and forgets it.
pub(super) fn detach(st: &mut State, conn: u64) {
    let Some(paths) = st.conns.get(&conn).map(|e| e.paths.clone()) else {
        return;
    };
    for path in paths {
        leave(st, conn, &path);
    }
    st.conns.remove(&conn);
}

/// Forwards `from\n<remainder>` for each remainder to the recipients TinyBase's relay picks,
/// and the message to the room peer when it is addressed to "" or "S".
pub(super) fn relay(
    shared: &Arc<Shared>,
    st: &mut State,
    path: &str,
    from: &str,
    to: &str,
    remainders: &[String],
    for_peer: bool,
) {
    let mut overflowed: Vec<(u64, &'static str)> = Vec::new();
    {
        let State { rooms, conns, .. } = &mut *st;
        let Some(room) = rooms.get(path) else {
            return;
        };
        let send_to = |member: &Member, overflowed: &mut Vec<(u64, &'static str)>| {
            let Some(entry) = conns.get(&member.conn) else {
                return;
            };
            for r in remainders {
                let payload = raw_payload(from, r);
                let payload = match &member.channel {
                    Some(channel) => channel_payload(channel, &payload),
                    None => payload,
                };
                let cap = if from == SERVER_CLIENT_ID {
                    MAX_SOCKET_QUEUE_BYTES_WITH_ANSWERS
                } else {
                    MAX_SOCKET_QUEUE_BYTES
                };
                if !entry.out.push_within(payload, cap) {
                    overflowed.push((member.conn, "socket"));
                    return;
                }
            }
        };
        let to_peer = if to.is_empty() {
            for (id, member) in &room.clients {
                if id != from {
                    send_to(member, &mut overflowed);
                }
            }
            from != SERVER_CLIENT_ID
        } else if to == SERVER_CLIENT_ID {
            from != SERVER_CLIENT_ID
        } else {
            if let Some(member) = room.clients.get(to) {
                send_to(member, &mut overflowed);
            }
            false
        };
        if let (true, Some(inbox), true) = (to_peer, &room.peer_inbox, for_peer) {
            let size: usize = remainders.iter().map(String::len).sum();
            let (count, bytes) = &*inbox.pending;
            if count.load(Ordering::Acquire) >= MAX_PEER_INBOX
                || bytes.load(Ordering::Acquire) + size > MAX_PEER_INBOX_BYTES
            {
                if let Some(member) = room.clients.get(from) {
                    overflowed.push((member.conn, "server"));
                }
            } else {
                count.fetch_add(1, Ordering::AcqRel);
                bytes.fetch_add(size, Ordering::AcqRel);
                // The text, not the parsed tree (many times larger): the peer applies it
                // straight from the text.
                let text = joined_remainder(remainders);
                let _ = inbox.tx.send((from.to_string(), text, size));
            }
        }
    }
    for (conn, what) in overflowed {
        tracing::warn!(conn, what, "sync server: socket over its limits, closing");
        close_conn(
            st,
            shared,
            conn,
            crate::sync::protocol::CLOSE_OVERFLOW,
            &ProtocolError::Overflow(what).to_string(),
        );
    }
}

/// Keeps a client payload until the room's peer has started (TinyBase's server buffer):
/// ContentHashes from one sender to one destination are coalesced to the latest; a sender
/// over the room's or its socket's budget is closed (`server`).
pub(super) fn buffer_payload(
    shared: &Arc<Shared>,
    st: &mut State,
    path: &str,
    conn: u64,
    from: &str,
    d: Decoded,
) {
    let new_payloads = d.remainders.len();
    let new_bytes: usize = d.remainders.iter().map(|r| r.len() + from.len() + 1).sum();
    let Some(conn_buffered) = st.conns.get(&conn).map(|c| c.buffered) else {
        return;
    };
    let (coalesce, over) = {
        let Some(room) = st.rooms.get(path) else {
            return;
        };
        let Phase::Starting {
            buffer,
            payloads,
            bytes,
            ..
        } = &room.phase
        else {
            return;
        };
        let coalesce = if d.message.message == MessageType::ContentHashes {
            buffer.iter().position(|b| {
                b.from == from && b.to == d.client_id && b.kind == MessageType::ContentHashes
            })
        } else {
            None
        };
        let (old_payloads, old_bytes, old_conn) = coalesce
            .map(|i| (buffer[i].payloads, buffer[i].bytes, buffer[i].conn))
            .unwrap_or((0, 0, conn));
        let (conn_old_payloads, conn_old_bytes) = if old_conn == conn {
            (old_payloads, old_bytes)
        } else {
            (0, 0)
        };
        let over = *payloads + new_payloads - old_payloads > MAX_QUEUED_PAYLOADS
            || *bytes + new_bytes - old_bytes > MAX_PAYLOAD_BYTES
            || conn_buffered.0 + new_payloads - conn_old_payloads > MAX_QUEUED_PAYLOADS
            || conn_buffered.1 + new_bytes - conn_old_bytes > MAX_PAYLOAD_BYTES;
        (coalesce, over)
    };
    if over {
        // The sender's earlier payloads were received within budget: they stay (see `leave`).
        tracing::warn!(
            path,
            conn,
            "sync server: start-up buffer full, closing sender"
        );
        close_conn(
            st,
            shared,
            conn,
            crate::sync::protocol::CLOSE_OVERFLOW,
            &ProtocolError::Overflow("server").to_string(),
        );
        return;
    }
    let State { rooms, conns, .. } = &mut *st;
    let Some(room) = rooms.get_mut(path) else {
        return;
    };
    let generation = room.generation;
    let Phase::Starting {
        buffer,
        payloads,
        bytes,
        epoch,
        ..
    } = &mut room.phase
    else {
        return;
    };
    let was_empty = buffer.is_empty();
    let entry = Buffered {
        conn,
        from: from.to_string(),
        to: d.client_id,
        remainders: d.remainders,
        kind: d.message.message,
        payloads: new_payloads,
        bytes: new_bytes,
    };
    match coalesce {
        Some(i) => {
            let old = std::mem::replace(&mut buffer[i], entry);
            if let Some(c) = conns.get_mut(&old.conn) {
                c.buffered.0 -= old.payloads;
                c.buffered.1 -= old.bytes;
            }
            *payloads -= old.payloads;
            *bytes -= old.bytes;
        }
        None => buffer.push(entry),
    }
    *payloads += new_payloads;
    *bytes += new_bytes;
    if let Some(c) = conns.get_mut(&conn) {
        c.buffered.0 += new_payloads;
        c.buffered.1 += new_bytes;
    }
    if was_empty {
        arm_expiry(shared, path, generation, *epoch);
    }
}

/// Closes the start-up buffer's senders if it is still waiting ten request timeouts from now.
pub(super) fn arm_expiry(shared: &Arc<Shared>, path: &str, generation: u64, armed: u64) {
    let shared2 = shared.clone();
    let path = path.to_string();
    let delay = shared.cfg.request_timeout.saturating_mul(10);
    shared.handle.spawn(async move {
        tokio::time::sleep(delay).await;
        let shared3 = shared2.clone();
        shared2.with_state(|st| expire_buffer(&shared3, st, &path, generation, armed));
    });
}

/// The start-up buffer outlived ten request timeouts: its senders are closed (`server`).
pub(super) fn expire_buffer(
    shared: &Arc<Shared>,
    st: &mut State,
    path: &str,
    generation: u64,
    armed: u64,
) {
    let Some(room) = st.rooms.get(path) else {
        return;
    };
    if room.generation != generation {
        return;
    }
    let Phase::Starting {
        buffer,
        epoch,
        loading,
        ..
    } = &room.phase
    else {
        return;
    };
    if *epoch != armed || buffer.is_empty() {
        return;
    }
    if !*loading {
        // The path's previous room is still applying and saving what it received: that is
        // progress, not a stuck start. Patience counts from when this room's load begins.
        arm_expiry(shared, path, generation, armed);
        return;
    }
    let mut conns: Vec<u64> = buffer
        .iter()
        .map(|b| b.conn)
        .filter(|c| *c != GONE)
        .collect();
    conns.sort_unstable();
    conns.dedup();
    if conns.is_empty() {
        return;
    }
    tracing::warn!(
        path,
        "sync server: room start-up too slow, closing buffered senders"
    );
    let reason = ProtocolError::Overflow("server").to_string();
    for conn in conns {
        close_conn(
            st,
            shared,
            conn,
            crate::sync::protocol::CLOSE_OVERFLOW,
            &reason,
        );
    }
}
