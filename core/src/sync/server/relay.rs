//! The rooms as a state machine, free of tokio, sockets and clocks: who is in which room, the
//! start-up buffer of a room whose peer is starting, TinyBase's relay rules, the room peer's
//! inbox, and what a closing socket or an emptied room leaves behind. The server runs it under
//! one lock; what needs the runtime (starting a room's task, a timer) comes out as an
//! [`Effect`], and what listeners must hear as an [`Event`], both carried out by the caller
//! after the lock is released. Sockets and the peer's inbox are reached through the
//! [`Outbox`] and [`PeerQueue`] traits, so the unit tests below drive it with plain recorders.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use indexmap::IndexMap;

use crate::sync::protocol::{
    CLOSE_INVALID, CLOSE_OVERFLOW, ContentDiff, MAX_PAYLOAD_BYTES, MAX_QUEUED_PAYLOADS,
    MAX_SERVER_MESSAGE_BYTES, MessageType, ProtocolError, Relayed, SERVER_CLIENT_ID,
    channel_payload, joined_remainder, raw_payload,
};

/// Most messages waiting for a room peer; beyond that the sender is closed (`server`).
pub(super) const MAX_PEER_INBOX: usize = 4 * MAX_QUEUED_PAYLOADS;
/// Most bytes (of the messages' wire text) waiting for a room peer, likewise: what bounds a
/// room's memory while its store catches up. A ContentDiff waits as its typed stamp tree,
/// counted at its text's size: the tree takes about twice that (W6's 10k rows: 7.2 MB for
/// 3.5 MB of text; a JSON tree of it would take ~18×), so the inbox holds at most about
/// twice this bound.
pub(super) const MAX_PEER_INBOX_BYTES: usize = 4 * MAX_PAYLOAD_BYTES;
/// Most bytes queued for one socket: one largest message plus its fragments' headers, with
/// room for the traffic around it.
pub(super) const MAX_SOCKET_QUEUE_BYTES: usize = 2 * MAX_PAYLOAD_BYTES;
/// Most bytes queued for one socket while the room peer's answers are among them: a pull's
/// answer holds a whole table, up to what a client reassembles.
pub(super) const MAX_SOCKET_QUEUE_BYTES_WITH_ANSWERS: usize =
    MAX_SERVER_MESSAGE_BYTES + MAX_PAYLOAD_BYTES;
/// The `conn` of a buffered message whose sender has gone: it is kept for the room's peer
/// (it was received, so it must be applied and saved), but belongs to no socket's budget.
const GONE: u64 = 0;
/// Longest close reason a WebSocket close frame can carry.
const MAX_CLOSE_REASON: usize = 123;

/// `Some(code, reason)`: send a close frame; `None`: just stop writing.
pub(super) type CloseRequest = Option<(u16, String)>;

/// The sending side of one socket.
pub(super) trait Outbox: Send + Sync {
    /// Queues a payload; `false` if it would take the socket's queue past its limits (one
    /// payload over [`MAX_PAYLOAD_BYTES`], [`MAX_QUEUED_PAYLOADS`] payloads, or `max_bytes`).
    fn push(&self, payload: String, max_bytes: usize) -> bool;
    /// Closes the socket after what is queued is dropped (a close frame goes first).
    fn close(&self, frame: CloseRequest);
    /// Whether `close` was called.
    fn is_closing(&self) -> bool;
}

/// A message for the room peer: sender, the message, and its wire size (for the inbox budget).
pub(super) type PeerMessage = (String, PeerBody, usize);

/// A message as the room peer gets it.
#[derive(Debug)]
pub(super) enum PeerBody {
    /// The message's text (`[requestId,message,body]`), validated.
    Text(String),
    /// A ContentDiff whose changes were read into their stamp tree when it was validated.
    Changes(Box<ContentDiff>),
}

impl PeerBody {
    fn new(remainders: Vec<String>, changes: Option<ContentDiff>) -> PeerBody {
        match changes {
            Some(diff) => PeerBody::Changes(Box::new(diff)),
            None => PeerBody::Text(joined_remainder(remainders)),
        }
    }
}

/// Where a room's messages for its peer go (the peer's task takes them in order).
pub(super) trait PeerQueue: Send + Sync {
    /// Hands over one message; the queue's owner returns its budget in [`PeerInbox::pending`]
    /// when the peer takes it.
    fn send(&self, message: PeerMessage);
}

/// A room peer's inbox and the budget of what waits in it.
pub(super) struct PeerInbox {
    pub(super) queue: Box<dyn PeerQueue>,
    /// Messages and bytes sent but not yet taken by the peer.
    pub(super) pending: Arc<(AtomicUsize, AtomicUsize)>,
}

/// What the state machine needs from the runtime, carried out after the lock is released.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Effect {
    /// Make the peer of `path`'s room `generation`, once the peer of the path's room
    /// `previous` has stopped (so its save is done before the new one loads).
    StartRoom {
        path: String,
        generation: u64,
        previous: Option<u64>,
    },
    /// Call [`State::expire_buffer`] with these arguments ten request timeouts from now.
    ArmExpiry {
        path: String,
        generation: u64,
        epoch: u64,
    },
}

/// What path and client listeners hear, in order.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    Path(String, bool),
    Client(String, String, bool),
}

/// Why a client could not join.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum JoinError {
    ShuttingDown,
    Duplicate,
    TooManyRooms,
}

/// One room.
pub(super) struct Room {
    pub(super) generation: u64,
    pub(super) clients: IndexMap<String, Member>,
    pub(super) phase: Phase,
    pub(super) peer_inbox: Option<PeerInbox>,
    /// Whether a task runs for this room (there is a peer factory), which must stop before
    /// the path's next room starts.
    has_task: bool,
}

/// A client of a room: its socket, and its channel on a multiplexed socket.
pub(super) struct Member {
    pub(super) conn: u64,
    pub(super) channel: Option<String>,
}

pub(super) enum Phase {
    /// The peer factory is running: client payloads wait here.
    Starting {
        buffer: Vec<Buffered>,
        payloads: usize,
        bytes: usize,
        epoch: u64,
        /// The factory runs (the path's previous room, if any, has stopped).
        loading: bool,
        /// `State::starts_ended` when the buffer's wait was last armed.
        starts_seen: u64,
    },
    Ready,
}

/// A client payload kept while its room starts.
pub(super) struct Buffered {
    conn: u64,
    from: String,
    to: String,
    remainders: Vec<String>,
    /// A ContentDiff's changes, read when it was validated.
    changes: Option<ContentDiff>,
    /// The message's type (ContentHashes are coalesced).
    kind: MessageType,
    payloads: usize,
    bytes: usize,
}

/// One socket.
pub(super) struct ConnEntry {
    pub(super) out: Arc<dyn Outbox>,
    pub(super) paths: Vec<String>,
    /// Payloads and bytes this socket has waiting in starting rooms (all its channels).
    buffered: (usize, usize),
}

impl ConnEntry {
    pub(super) fn new(out: Arc<dyn Outbox>) -> ConnEntry {
        ConnEntry {
            out,
            paths: Vec::new(),
            buffered: (0, 0),
        }
    }
}

/// Every room and socket of a server.
pub(super) struct State {
    pub(super) rooms: IndexMap<String, Room>,
    pub(super) conns: HashMap<u64, ConnEntry>,
    /// The generation of each path's last torn-down room whose peer has not stopped yet.
    stopping: HashMap<String, u64>,
    /// Messages for the peer of a room (by generation) that was torn down while its peer was
    /// still starting: the peer applies them before it stops, so a client's last write before
    /// it left is not lost.
    orphans: HashMap<u64, Vec<(String, PeerBody)>>,
    pub(super) events: Vec<Event>,
    pub(super) effects: Vec<Effect>,
    pub(super) shutting_down: bool,
    /// Sockets closed for invalid input and for going over a limit.
    pub(super) closed_invalid: u64,
    pub(super) closed_overflow: u64,
    has_factory: bool,
    max_rooms: Option<usize>,
    last_id: u64,
    /// Room start-ups that ended (ready or failed): the progress a start-up buffer's
    /// patience looks at.
    starts_ended: u64,
    /// Payloads queued for sockets since the server last took this: `(type, payloads,
    /// bytes)` per relayed message, for its metrics.
    pub(super) sent: Vec<(Option<MessageType>, u64, usize)>,
}

impl State {
    /// An empty server: rooms get peers when there is a factory; at most `max_rooms` rooms.
    pub(super) fn new(has_factory: bool, max_rooms: Option<usize>) -> State {
        State {
            rooms: IndexMap::new(),
            conns: HashMap::new(),
            stopping: HashMap::new(),
            orphans: HashMap::new(),
            events: Vec::new(),
            effects: Vec::new(),
            shutting_down: false,
            closed_invalid: 0,
            closed_overflow: 0,
            has_factory,
            max_rooms,
            last_id: 0,
            starts_ended: 0,
            sent: Vec::new(),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    /// Adds a client to a room, starting the room if needed.
    pub(super) fn join(
        &mut self,
        conn: u64,
        path: &str,
        client_id: &str,
        channel: Option<&str>,
    ) -> Result<(), JoinError> {
        if self.shutting_down || !self.conns.contains_key(&conn) {
            return Err(JoinError::ShuttingDown);
        }
        match self.rooms.get(path) {
            Some(room) if room.clients.contains_key(client_id) => {
                return Err(JoinError::Duplicate);
            }
            Some(_) => {}
            None => {
                if self.max_rooms.is_some_and(|max| self.rooms.len() >= max) {
                    tracing::warn!(path, "sync server: room limit reached, refusing a new room");
                    return Err(JoinError::TooManyRooms);
                }
                self.start_room(path);
            }
        }
        let Some(room) = self.rooms.get_mut(path) else {
            return Err(JoinError::ShuttingDown);
        };
        room.clients.insert(
            client_id.to_string(),
            Member {
                conn,
                channel: channel.map(str::to_string),
            },
        );
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.paths.push(path.to_string());
        }
        self.events
            .push(Event::Client(path.to_string(), client_id.to_string(), true));
        tracing::debug!(path, client_id, "client joined");
        Ok(())
    }

    fn start_room(&mut self, path: &str) {
        let generation = self.next_id();
        let phase = if self.has_factory {
            Phase::Starting {
                buffer: Vec::new(),
                payloads: 0,
                bytes: 0,
                epoch: self.next_id(),
                loading: false,
                starts_seen: 0,
            }
        } else {
            Phase::Ready
        };
        self.rooms.insert(
            path.to_string(),
            Room {
                generation,
                clients: IndexMap::new(),
                phase,
                peer_inbox: None,
                has_task: self.has_factory,
            },
        );
        self.events.push(Event::Path(path.to_string(), true));
        tracing::debug!(path, "room started");
        if self.has_factory {
            let previous = self.stopping.remove(path);
            self.effects.push(Effect::StartRoom {
                path: path.to_string(),
                generation,
                previous,
            });
        }
    }

    /// The room `generation` of `path`, if it is still the path's room.
    fn room_of(&mut self, path: &str, generation: u64) -> Option<&mut Room> {
        self.rooms
            .get_mut(path)
            .filter(|r| r.generation == generation)
    }

    /// The room's peer factory is about to run: from now on its start-up buffer's patience
    /// counts (see [`State::expire_buffer`]).
    pub(super) fn room_loading(&mut self, path: &str, generation: u64) {
        if let Some(Room {
            phase: Phase::Starting { loading, .. },
            ..
        }) = self.room_of(path, generation)
        {
            *loading = true;
        }
    }

    /// The room's peer could not be made: its clients are closed with `code` and `reason`.
    pub(super) fn room_failed(&mut self, path: &str, generation: u64, code: u16, reason: &str) {
        self.starts_ended += 1;
        let conns: Vec<u64> = self
            .room_of(path, generation)
            .map(|r| r.clients.values().map(|m| m.conn).collect())
            .unwrap_or_default();
        for conn in conns {
            self.close_conn(conn, code, reason);
        }
    }

    /// The room's peer is ready (`inbox` is `None` for a pure relay): what the room buffered is
    /// relayed in order. `Err` with the messages buffered for the peer when the room already
    /// went (the peer should apply them before it stops).
    pub(super) fn room_ready(
        &mut self,
        path: &str,
        generation: u64,
        inbox: Option<PeerInbox>,
    ) -> Result<(), Vec<(String, PeerBody)>> {
        self.starts_ended += 1;
        let Some(room) = self.room_of(path, generation) else {
            return Err(self.orphans.remove(&generation).unwrap_or_default());
        };
        room.peer_inbox = inbox;
        let phase = std::mem::replace(&mut room.phase, Phase::Ready);
        if let Phase::Starting { buffer, .. } = phase {
            for b in buffer {
                if let Some(c) = self.conns.get_mut(&b.conn) {
                    c.buffered.0 -= b.payloads;
                    c.buffered.1 -= b.bytes;
                }
                self.relay(
                    path,
                    &b.from,
                    &b.to,
                    b.remainders,
                    b.changes,
                    true,
                    Some(b.kind),
                );
            }
        }
        tracing::debug!(path, "room ready");
        Ok(())
    }

    /// The room's task ended (its peer stopped): the path's next room need not wait for it.
    pub(super) fn room_stopped(&mut self, path: &str, generation: u64) {
        self.orphans.remove(&generation);
        if self.stopping.get(path) == Some(&generation) {
            self.stopping.remove(path);
        }
    }

    /// Removes a client from a room (if `conn` is still that member), stopping the room when
    /// it empties.
    pub(super) fn leave(&mut self, conn: u64, path: &str) {
        let Some(room) = self.rooms.get_mut(path) else {
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
        self.keep_buffered_of_gone(path, conn);
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.paths.retain(|p| p != path);
        }
        self.events
            .push(Event::Client(path.to_string(), client_id.clone(), false));
        tracing::debug!(path, client_id, "client left");
        if emptied {
            self.teardown_room(path);
        }
    }

    /// Ends a room. Its inbox is dropped (the peer's task then stops the peer once it took
    /// everything sent before); what it buffered for its starting peer is kept for that peer.
    pub(super) fn teardown_room(&mut self, path: &str) {
        let mut orphans: Vec<(String, PeerBody)> = Vec::new();
        if let Some(Room {
            phase: Phase::Starting { buffer, .. },
            ..
        }) = self.rooms.get_mut(path)
        {
            for b in std::mem::take(buffer) {
                if let Some(c) = self.conns.get_mut(&b.conn) {
                    c.buffered.0 -= b.payloads;
                    c.buffered.1 -= b.bytes;
                }
                if b.from != SERVER_CLIENT_ID && (b.to.is_empty() || b.to == SERVER_CLIENT_ID) {
                    orphans.push((b.from, PeerBody::new(b.remainders, b.changes)));
                }
            }
        }
        let Some(room) = self.rooms.shift_remove(path) else {
            return;
        };
        if !orphans.is_empty() {
            self.orphans.insert(room.generation, orphans);
        }
        if room.has_task {
            self.stopping.insert(path.to_string(), room.generation);
        }
        self.events.push(Event::Path(path.to_string(), false));
        tracing::debug!(path, "room stopped");
    }

    /// Hands a leaving socket's buffered payloads to the room: they stay for the peer and the
    /// other clients, but no longer count against the socket.
    fn keep_buffered_of_gone(&mut self, path: &str, conn: u64) {
        let Some(Room {
            phase: Phase::Starting { buffer, .. },
            ..
        }) = self.rooms.get_mut(path)
        else {
            return;
        };
        for b in buffer.iter_mut().filter(|b| b.conn == conn) {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.buffered.0 -= b.payloads;
                c.buffered.1 -= b.bytes;
            }
            b.conn = GONE;
        }
    }

    /// Closes a socket: its close frame goes ahead of its pending payloads and it leaves every
    /// room at once, so nothing more is relayed to or from it.
    pub(super) fn close_conn(&mut self, conn: u64, code: u16, reason: &str) {
        let Some(entry) = self.conns.get(&conn) else {
            return;
        };
        if !entry.out.is_closing() {
            match code {
                CLOSE_INVALID => self.closed_invalid += 1,
                CLOSE_OVERFLOW => self.closed_overflow += 1,
                _ => {}
            }
            tracing::debug!(conn, code, reason, "closing socket");
            entry.out.close(Some((code, truncate_reason(reason))));
        }
        self.detach(conn);
    }

    /// Takes a socket out of all its rooms and forgets it.
    pub(super) fn detach(&mut self, conn: u64) {
        let Some(paths) = self.conns.get(&conn).map(|e| e.paths.clone()) else {
            return;
        };
        for path in paths {
            self.leave(conn, &path);
        }
        self.conns.remove(&conn);
    }

    /// Stops everything: every socket is closed with `code`, every room torn down.
    pub(super) fn shut_down(&mut self, code: u16) {
        self.shutting_down = true;
        let conns: Vec<u64> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close_conn(conn, code, "");
        }
        let paths: Vec<String> = self.rooms.keys().cloned().collect();
        for path in paths {
            self.teardown_room(&path);
        }
    }

    /// A validated message from client `from` of `path` on socket `conn`: relayed at once, or
    /// kept while the room's peer starts.
    pub(super) fn deliver(&mut self, path: &str, conn: u64, from: &str, decoded: Relayed) {
        let Some(room) = self.rooms.get(path) else {
            return;
        };
        if room.clients.get(from).is_none_or(|m| m.conn != conn) {
            return;
        }
        if matches!(room.phase, Phase::Starting { .. }) {
            self.buffer_payload(path, conn, from, decoded);
        } else {
            let Relayed {
                client_id: to,
                remainders,
                changes,
                message,
                ..
            } = decoded;
            self.relay(path, from, &to, remainders, changes, true, Some(message));
        }
    }

    /// Forwards `from\n<remainder>` for each remainder to the recipients TinyBase's relay
    /// picks, and (when `for_peer`) the message to the room peer when it is addressed to ""
    /// or "S" (a ContentDiff as its `changes`, when they were read). A recipient over its limits is closed (`socket`), a sender whose message does
    /// not fit in the peer's inbox too (`server`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn relay(
        &mut self,
        path: &str,
        from: &str,
        to: &str,
        remainders: Vec<String>,
        changes: Option<ContentDiff>,
        for_peer: bool,
        message: Option<MessageType>,
    ) {
        let mut overflowed: Vec<(u64, &'static str)> = Vec::new();
        let mut sent = (0u64, 0usize);
        {
            let Some(room) = self.rooms.get(path) else {
                return;
            };
            let conns = &self.conns;
            let cap = if from == SERVER_CLIENT_ID {
                MAX_SOCKET_QUEUE_BYTES_WITH_ANSWERS
            } else {
                MAX_SOCKET_QUEUE_BYTES
            };
            let send_to = |member: &Member,
                           overflowed: &mut Vec<(u64, &'static str)>,
                           sent: &mut (u64, usize)| {
                let Some(entry) = conns.get(&member.conn) else {
                    return;
                };
                for r in &remainders {
                    let payload = raw_payload(from, r);
                    let payload = match &member.channel {
                        Some(channel) => channel_payload(channel, &payload),
                        None => payload,
                    };
                    let len = payload.len();
                    if !entry.out.push(payload, cap) {
                        overflowed.push((member.conn, "socket"));
                        return;
                    }
                    sent.0 += 1;
                    sent.1 += len;
                }
            };
            let to_peer = if to.is_empty() {
                for (id, member) in &room.clients {
                    if id != from {
                        send_to(member, &mut overflowed, &mut sent);
                    }
                }
                from != SERVER_CLIENT_ID
            } else if to == SERVER_CLIENT_ID {
                from != SERVER_CLIENT_ID
            } else {
                if let Some(member) = room.clients.get(to) {
                    send_to(member, &mut overflowed, &mut sent);
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
                    // The text or the typed changes, never a JSON tree (many times larger).
                    let body = PeerBody::new(remainders, changes);
                    inbox.queue.send((from.to_string(), body, size));
                }
            }
        }
        if sent.0 > 0 {
            self.sent.push((message, sent.0, sent.1));
        }
        for (conn, what) in overflowed {
            tracing::warn!(conn, what, "sync server: socket over its limits, closing");
            self.close_conn(
                conn,
                CLOSE_OVERFLOW,
                &ProtocolError::Overflow(what).to_string(),
            );
        }
    }

    /// Keeps a client payload until the room's peer has started (TinyBase's server buffer):
    /// ContentHashes from one sender to one destination are coalesced to the latest; a sender
    /// over the room's or its socket's budget is closed (`server`), what it sent before
    /// staying.
    fn buffer_payload(&mut self, path: &str, conn: u64, from: &str, d: Relayed) {
        let new_payloads = d.remainders.len();
        let new_bytes: usize = d.remainders.iter().map(|r| r.len() + from.len() + 1).sum();
        let Some(conn_buffered) = self.conns.get(&conn).map(|c| c.buffered) else {
            return;
        };
        let kind = d.message;
        let (coalesce, over) = {
            let Some(Room {
                phase:
                    Phase::Starting {
                        buffer,
                        payloads,
                        bytes,
                        ..
                    },
                ..
            }) = self.rooms.get(path)
            else {
                return;
            };
            let coalesce = if kind == MessageType::ContentHashes {
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
            tracing::warn!(
                path,
                conn,
                "sync server: start-up buffer full, closing sender"
            );
            self.close_conn(
                conn,
                CLOSE_OVERFLOW,
                &ProtocolError::Overflow("server").to_string(),
            );
            return;
        }
        let starts_ended = self.starts_ended;
        let Some(room) = self.rooms.get_mut(path) else {
            return;
        };
        let generation = room.generation;
        let Phase::Starting {
            buffer,
            payloads,
            bytes,
            epoch,
            starts_seen,
            ..
        } = &mut room.phase
        else {
            return;
        };
        let was_empty = buffer.is_empty();
        if was_empty {
            *starts_seen = starts_ended;
        }
        let entry = Buffered {
            conn,
            from: from.to_string(),
            to: d.client_id,
            remainders: d.remainders,
            changes: d.changes,
            kind,
            payloads: new_payloads,
            bytes: new_bytes,
        };
        match coalesce {
            Some(i) => {
                let old = std::mem::replace(&mut buffer[i], entry);
                if let Some(c) = self.conns.get_mut(&old.conn) {
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
        let epoch = *epoch;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.buffered.0 += new_payloads;
            c.buffered.1 += new_bytes;
        }
        if was_empty {
            self.effects.push(Effect::ArmExpiry {
                path: path.to_string(),
                generation,
                epoch,
            });
        }
    }

    /// The start-up buffer armed at `epoch` waited ten request timeouts: if its room's load
    /// has begun, its senders are closed (`server`; what they sent stays for the room). While
    /// the path's previous room is still applying and saving, or other rooms finished starting
    /// meanwhile, the wait starts over: that is progress, not a stuck start (rooms starting
    /// together take turns on their storage: 1,000 rooms starting at once on one SQLite file
    /// kept the last ones waiting their turn over ten seconds).
    pub(super) fn expire_buffer(&mut self, path: &str, generation: u64, armed: u64) {
        let starts_ended = self.starts_ended;
        let Some(Room {
            phase:
                Phase::Starting {
                    buffer,
                    epoch,
                    loading,
                    starts_seen,
                    ..
                },
            ..
        }) = self.room_of(path, generation)
        else {
            return;
        };
        if *epoch != armed || buffer.is_empty() {
            return;
        }
        let others_progressed = *starts_seen != starts_ended;
        *starts_seen = starts_ended;
        if !*loading || others_progressed {
            self.effects.push(Effect::ArmExpiry {
                path: path.to_string(),
                generation,
                epoch: armed,
            });
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
            self.close_conn(conn, CLOSE_OVERFLOW, &reason);
        }
    }
}

/// A close reason cut (at a character boundary) to what a close frame can carry.
pub(super) fn truncate_reason(reason: &str) -> String {
    if reason.len() <= MAX_CLOSE_REASON {
        return reason.to_string();
    }
    let mut end = MAX_CLOSE_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::sync::protocol::{FragmentBudget, PayloadDecoder};

    /// A socket that records what it is sent.
    #[derive(Default)]
    struct Recorder {
        sent: Mutex<Vec<String>>,
        closed: Mutex<Option<CloseRequest>>,
        closing: AtomicBool,
        limit: Option<usize>,
    }

    impl Outbox for Recorder {
        fn push(&self, payload: String, _max_bytes: usize) -> bool {
            let mut sent = self.sent.lock().unwrap();
            if self.limit.is_some_and(|l| sent.len() >= l) {
                return false;
            }
            sent.push(payload);
            true
        }
        fn close(&self, frame: CloseRequest) {
            *self.closed.lock().unwrap() = Some(frame);
            self.closing.store(true, Ordering::SeqCst);
        }
        fn is_closing(&self) -> bool {
            self.closing.load(Ordering::SeqCst)
        }
    }

    impl Recorder {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut self.sent.lock().unwrap())
        }
        fn close_code(&self) -> Option<u16> {
            self.closed
                .lock()
                .unwrap()
                .clone()
                .flatten()
                .map(|(c, _)| c)
        }
    }

    #[derive(Default)]
    struct Peer(Mutex<Vec<PeerMessage>>);

    impl PeerQueue for Arc<Peer> {
        fn send(&self, message: PeerMessage) {
            self.0.lock().unwrap().push(message);
        }
    }

    fn socket(st: &mut State, conn: u64) -> Arc<Recorder> {
        socket_with(st, conn, None)
    }

    fn socket_with(st: &mut State, conn: u64, limit: Option<usize>) -> Arc<Recorder> {
        let out = Arc::new(Recorder {
            limit,
            ..Recorder::default()
        });
        st.conns.insert(conn, ConnEntry::new(out.clone()));
        out
    }

    fn decoded(payload: &str) -> Relayed {
        PayloadDecoder::new(1000)
            .decode_relayed(payload, 0, &mut FragmentBudget::default())
            .unwrap()
            .unwrap()
    }

    /// A message the peer got, as text (a ContentDiff's changes as TinyBase writes them).
    fn text(body: &PeerBody) -> String {
        match body {
            PeerBody::Text(text) => text.clone(),
            PeerBody::Changes(diff) => diff.encode(),
        }
    }

    fn inbox(peer: &Arc<Peer>) -> PeerInbox {
        PeerInbox {
            queue: Box::new(peer.clone()),
            pending: Arc::default(),
        }
    }

    const HASHES: &str = "\n[\"h\",2,[1,0]]";
    const DIFF: &str = "\n[\"d\",3,[[{},\"\"],[{\"v\":[1,\"Nn1JUF-----FnHIC\"]},\"\"],1]]";
    /// [`DIFF`] as the peer gets it: its changes read into their tree, written back.
    const DIFF_READ: &str = "[\"d\",3,[[{}],[{\"v\":[1,\"Nn1JUF-----FnHIC\"]}],1]]";

    #[test]
    fn relay_rules_broadcast_direct_and_peer() {
        let mut st = State::new(false, None);
        let (a, b, c) = (socket(&mut st, 1), socket(&mut st, 2), socket(&mut st, 3));
        for (conn, id) in [(1, "A"), (2, "B"), (3, "C")] {
            st.join(conn, "room", id, None).unwrap();
        }
        assert_eq!(st.join(1, "room", "A", None), Err(JoinError::Duplicate));
        // A relay-only room: no effects, ready at once.
        assert!(st.effects.is_empty());
        st.deliver("room", 1, "A", decoded(HASHES));
        assert_eq!(a.take(), Vec::<String>::new());
        assert_eq!(b.take(), ["A\n[\"h\",2,[1,0]]"]);
        assert_eq!(c.take(), ["A\n[\"h\",2,[1,0]]"]);
        st.deliver("room", 1, "A", decoded("C\n[\"x\",1,\"\"]"));
        assert!(b.take().is_empty());
        assert_eq!(c.take(), ["A\n[\"x\",1,\"\"]"]);
        // A socket that is not the member of that id is ignored.
        st.deliver("room", 2, "A", decoded(HASHES));
        assert!(b.take().is_empty() && c.take().is_empty());
        assert_eq!(
            st.events[..3],
            [
                Event::Path("room".into(), true),
                Event::Client("room".into(), "A".into(), true),
                Event::Client("room".into(), "B".into(), true),
            ]
        );
    }

    #[test]
    fn a_starting_room_buffers_coalesces_and_replays_in_order() {
        let mut st = State::new(true, None);
        let (_a, b) = (socket(&mut st, 1), socket(&mut st, 2));
        st.join(1, "room", "A", None).unwrap();
        st.join(2, "room", "B", None).unwrap();
        let Effect::StartRoom { generation, .. } = st.effects.remove(0) else {
            panic!("expected a room start");
        };
        st.deliver("room", 1, "A", decoded("\n[\"h1\",2,[1,0]]"));
        st.deliver("room", 1, "A", decoded(DIFF));
        st.deliver("room", 1, "A", decoded("\n[\"h2\",2,[2,0]]"));
        assert!(matches!(st.effects[..], [Effect::ArmExpiry { .. }]));
        assert!(b.take().is_empty());
        let peer = Arc::new(Peer::default());
        st.room_ready("room", generation, Some(inbox(&peer)))
            .unwrap();
        // The two ContentHashes coalesced to the latest, in the first one's place.
        assert_eq!(
            b.take(),
            ["A\n[\"h2\",2,[2,0]]".to_string(), format!("A{DIFF}")]
        );
        let peer = peer.0.lock().unwrap();
        let got: Vec<String> = peer.iter().map(|m| text(&m.1)).collect();
        assert_eq!(got, ["[\"h2\",2,[2,0]]", DIFF_READ]);
        // Hashes as text; the ContentDiff as its typed changes, counted at its text's size.
        assert!(matches!(peer[0].1, PeerBody::Text(_)));
        assert!(matches!(peer[1].1, PeerBody::Changes(_)));
        assert_eq!(peer[1].2, DIFF.len() - 1);
    }

    #[test]
    fn received_messages_outlive_their_sender_and_the_room() {
        let mut st = State::new(true, None);
        socket(&mut st, 1);
        st.join(1, "room", "A", None).unwrap();
        let Effect::StartRoom { generation, .. } = st.effects.remove(0) else {
            panic!("expected a room start");
        };
        st.deliver("room", 1, "A", decoded(DIFF));
        st.detach(1);
        assert!(st.rooms.is_empty());
        // The room went before its peer was ready: the peer still gets the write.
        let peer = Arc::new(Peer::default());
        let orphans = st.room_ready("room", generation, Some(inbox(&peer)));
        let orphans: Vec<(String, String)> = orphans
            .unwrap_err()
            .iter()
            .map(|(from, body)| (from.clone(), text(body)))
            .collect();
        assert_eq!(orphans, [("A".to_string(), DIFF_READ.to_string())]);
        // The next room of the path waits for this one's peer to stop.
        socket(&mut st, 2);
        st.join(2, "room", "B", None).unwrap();
        assert!(matches!(
            st.effects.last(),
            Some(Effect::StartRoom { previous: Some(p), .. }) if *p == generation
        ));
        st.room_stopped("room", generation);
    }

    #[test]
    fn limits_close_only_the_offender() {
        let mut st = State::new(false, Some(1));
        let (a, b) = (socket(&mut st, 1), socket_with(&mut st, 2, Some(1)));
        socket(&mut st, 3);
        st.join(1, "room", "A", None).unwrap();
        st.join(2, "room", "B", None).unwrap();
        assert_eq!(st.join(3, "other", "C", None), Err(JoinError::TooManyRooms));
        st.deliver("room", 1, "A", decoded(HASHES));
        st.deliver("room", 1, "A", decoded(HASHES));
        // B's queue held one payload: B is closed for overflow, A is untouched.
        assert_eq!(b.close_code(), Some(CLOSE_OVERFLOW));
        assert_eq!(a.close_code(), None);
        assert_eq!(st.closed_overflow, 1);
        assert_eq!(st.rooms["room"].clients.keys().collect::<Vec<_>>(), ["A"]);
        // The peer's inbox is bounded too: its sender is closed, not the peer.
        let mut st = State::new(true, None);
        let a = socket(&mut st, 1);
        st.join(1, "room", "A", None).unwrap();
        let Effect::StartRoom { generation, .. } = st.effects.remove(0) else {
            panic!("expected a room start");
        };
        let peer = Arc::new(Peer::default());
        let full = inbox(&peer);
        full.pending.0.store(MAX_PEER_INBOX, Ordering::SeqCst);
        st.room_ready("room", generation, Some(full)).unwrap();
        st.deliver("room", 1, "A", decoded(DIFF));
        assert_eq!(a.close_code(), Some(CLOSE_OVERFLOW));
        assert!(peer.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_slow_start_is_patient_until_the_load_begins() {
        let mut st = State::new(true, None);
        let a = socket(&mut st, 1);
        st.join(1, "room", "A", None).unwrap();
        let Effect::StartRoom { generation, .. } = st.effects.remove(0) else {
            panic!("expected a room start");
        };
        st.deliver("room", 1, "A", decoded(HASHES));
        let Some(Effect::ArmExpiry { epoch, .. }) = st.effects.pop() else {
            panic!("expected a timer");
        };
        st.expire_buffer("room", generation, epoch);
        assert_eq!(a.close_code(), None);
        assert!(matches!(st.effects.pop(), Some(Effect::ArmExpiry { .. })));
        st.room_loading("room", generation);
        st.expire_buffer("room", generation, epoch);
        assert_eq!(a.close_code(), Some(CLOSE_OVERFLOW));
    }

    #[test]
    fn a_slow_start_is_patient_while_other_rooms_finish_starting() {
        let mut st = State::new(true, None);
        let a = socket(&mut st, 1);
        let _b = socket(&mut st, 2);
        st.join(1, "slow", "A", None).unwrap();
        st.join(2, "other", "B", None).unwrap();
        let generations: Vec<u64> = st
            .effects
            .drain(..)
            .filter_map(|e| match e {
                Effect::StartRoom { generation, .. } => Some(generation),
                _ => None,
            })
            .collect();
        let [slow, other] = generations[..] else {
            panic!("expected two room starts");
        };
        st.room_loading("slow", slow);
        st.deliver("slow", 1, "A", decoded(HASHES));
        let Some(Effect::ArmExpiry { epoch, .. }) = st.effects.pop() else {
            panic!("expected a timer");
        };
        // Another room finished starting during the wait: it starts over.
        st.room_loading("other", other);
        st.room_ready("other", other, None).unwrap();
        st.effects.clear();
        st.expire_buffer("slow", slow, epoch);
        assert_eq!(a.close_code(), None);
        assert!(matches!(st.effects.pop(), Some(Effect::ArmExpiry { .. })));
        // A whole wait without progress anywhere: the senders are closed.
        st.expire_buffer("slow", slow, epoch);
        assert_eq!(a.close_code(), Some(CLOSE_OVERFLOW));
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        assert_eq!(truncate_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = truncate_reason(&long);
        assert!(cut.len() <= MAX_CLOSE_REASON && long.starts_with(&cut));
    }
}
