//! The state a client's transport shares with its connection tasks: the live socket's
//! queue, what waits while the socket is down, status, hooks, and the [`Transport`] the
//! synchronizer sends through.

use super::*;

/// What the writer task sends, in order.
pub(super) enum Out {
    Frame(String),
    Close(u16, String),
}

/// A connection that is open (and, multiplexed, subscribed): sends go straight to its writer.
pub(super) struct LiveLink {
    pub(super) tx: mpsc::UnboundedSender<Out>,
    /// Bytes handed to the writer and not yet written (TinyBase's `bufferedAmount`).
    pub(super) outstanding: Arc<AtomicUsize>,
    /// Closes the socket at once, ahead of queued frames (overflow).
    pub(super) abort: Arc<watch::Sender<Option<(u16, String)>>>,
}

#[derive(Default)]
pub(super) struct Link {
    pub(super) live: Option<LiveLink>,
    /// Payloads (unwrapped) waiting for a reconnect, with when they were queued.
    pub(super) queue: VecDeque<(Instant, String)>,
    pub(super) queued_bytes: usize,
    /// A broadcast ContentHashes/ContentDiff was dropped while disconnected.
    pub(super) dirty: bool,
}

impl Link {
    pub(super) fn expire(&mut self, timeout: Duration) {
        let now = Instant::now();
        while let Some((at, payload)) = self.queue.front() {
            if now.duration_since(*at) < timeout {
                break;
            }
            self.queued_bytes -= payload.len();
            self.queue.pop_front();
        }
    }
}

pub(super) struct Shared {
    /// The URL given first, then the fallbacks; `current` indexes the one in use.
    pub(super) urls: Vec<String>,
    pub(super) current: AtomicUsize,
    pub(super) channel: Option<String>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) fragment_size: Option<usize>,
    pub(super) reconnect: Option<ReconnectPolicy>,
    pub(super) connect_timeout: Duration,
    pub(super) request_timeout: Duration,
    pub(super) on_status: Option<ConnectionHook>,
    pub(super) on_frame: Option<FrameHook>,
    pub(super) on_error: Option<ErrorHook>,
    // Weak: the synchronizer owns the transport, which owns this.
    pub(super) sync: OnceLock<WeakSynchronizer>,
    pub(super) status: AtomicU8,
    pub(super) link: Mutex<Link>,
    pub(super) closing: watch::Sender<bool>,
    pub(super) closed: AtomicBool,
    pub(super) finished: Mutex<bool>,
    pub(super) finished_changed: Condvar,
}

impl Shared {
    /// The URL in use (or to be tried next).
    pub(super) fn current_url(&self) -> String {
        self.urls[self.current.load(Ordering::SeqCst) % self.urls.len()].clone()
    }

    /// Moves on to the next URL (round robin).
    pub(super) fn rotate(&self) {
        if self.urls.len() > 1 {
            let next = (self.current.load(Ordering::SeqCst) + 1) % self.urls.len();
            self.current.store(next, Ordering::SeqCst);
        }
    }

    pub(super) fn status(&self) -> ConnectionStatus {
        match self.status.load(Ordering::SeqCst) {
            0 => ConnectionStatus::Connecting,
            1 => ConnectionStatus::Connected,
            _ => ConnectionStatus::Disconnected,
        }
    }

    pub(super) fn set_status(&self, status: ConnectionStatus) {
        if self.status.swap(status as u8, Ordering::SeqCst) == status as u8 {
            return;
        }
        tracing::debug!(url = %self.current_url(), ?status, "connection status");
        if let Some(hook) = &self.on_status
            && catch_unwind(AssertUnwindSafe(|| hook(status))).is_err()
        {
            log_warn("the connection status hook panicked");
        }
    }

    pub(super) fn frame_hook(&self, direction: FrameDirection, text: &str) {
        if let Some(hook) = &self.on_frame
            && catch_unwind(AssertUnwindSafe(|| hook(direction, text))).is_err()
        {
            log_warn("the frame hook panicked");
        }
    }

    pub(super) fn report(&self, error: &SyncError) {
        if let Some(hook) = &self.on_error {
            let _ = catch_unwind(AssertUnwindSafe(|| hook(error)));
        }
    }

    pub(super) fn synchronizer(&self) -> Option<Synchronizer> {
        self.sync.get().and_then(WeakSynchronizer::upgrade)
    }

    /// Starts closing: the supervisor unsubscribes, closes the socket and stops retrying.
    pub(super) fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            self.closing.send_replace(true);
        }
    }

    pub(super) fn is_closing(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(super) fn set_finished(&self) {
        *self.finished.lock() = true;
        self.finished_changed.notify_all();
    }

    pub(super) fn wait_finished(&self, bound: Duration) {
        let deadline = Instant::now() + bound;
        let mut finished = self.finished.lock();
        while !*finished {
            if self
                .finished_changed
                .wait_until(&mut finished, deadline)
                .timed_out()
            {
                return;
            }
        }
    }

    /// Hands one payload to a live connection; `false` when the connection can take no more.
    pub(super) fn push(&self, live: &LiveLink, payload: String) -> bool {
        let frame = match &self.channel {
            Some(channel) => channel_payload(channel, &payload),
            None => payload,
        };
        if frame.len() > MAX_PAYLOAD_BYTES {
            // TinyBase closes the socket here; with reconnection that would loop forever, and
            // the frame can never be sent, so it alone is dropped.
            log_warn("dropped an outgoing frame over 16 MiB (set a fragment size)");
            self.report(&SyncError::Transport(
                "a frame over 16 MiB was dropped".into(),
            ));
            return true;
        }
        let len = frame.len();
        if live.outstanding.fetch_add(len, Ordering::SeqCst) + len > MAX_PAYLOAD_BYTES {
            log_warn("the server does not read fast enough: closing (tinybase:15:socket)");
            live.abort.send_replace(Some((
                ProtocolError::Overflow("socket").close_code(),
                ProtocolError::Overflow("socket").to_string(),
            )));
            return false;
        }
        live.tx.send(Out::Frame(frame)).is_ok()
    }

    /// Makes a freshly opened connection the live one, after the payloads queued while
    /// disconnected; returns whether broadcasts were coalesced meanwhile.
    pub(super) fn go_live(&self, live: LiveLink) -> bool {
        let mut link = self.link.lock();
        link.expire(self.request_timeout);
        let queued = std::mem::take(&mut link.queue);
        link.queued_bytes = 0;
        let mut ok = true;
        for (_, payload) in queued {
            if ok {
                ok = self.push(&live, payload);
            }
        }
        if ok {
            link.live = Some(live);
        }
        std::mem::take(&mut link.dirty)
    }

    pub(super) fn go_down(&self) {
        self.link.lock().live = None;
    }

    fn send(&self, to: Option<&str>, message: MessageType, remainder: &str) {
        if self.is_closing() {
            return;
        }
        let payloads = make_payloads(to.unwrap_or(""), remainder, self.fragment_size);
        let mut link = self.link.lock();
        if let Some(live) = &link.live {
            for payload in payloads {
                if !self.push(live, payload) {
                    link.live = None;
                    return;
                }
            }
            return;
        }
        if self.reconnect.is_none() {
            // TinyBase: a closed socket sends nothing, and nothing is resent later.
            return;
        }
        if to.is_none()
            && matches!(
                message,
                MessageType::ContentHashes | MessageType::ContentDiff
            )
        {
            link.dirty = true;
            return;
        }
        link.expire(self.request_timeout);
        let bytes: usize = payloads.iter().map(String::len).sum();
        if link.queue.len() + payloads.len() > MAX_QUEUED_PAYLOADS
            || link.queued_bytes + bytes > MAX_PAYLOAD_BYTES
        {
            log_warn("dropped an outgoing message: the disconnected queue is full");
            return;
        }
        let now = Instant::now();
        link.queued_bytes += bytes;
        link.queue.extend(payloads.into_iter().map(|p| (now, p)));
    }
}

pub(super) fn log_warn(message: &str) {
    tracing::warn!("{message}");
}

pub(super) struct WsTransport {
    pub(super) shared: Arc<Shared>,
}

impl Transport for WsTransport {
    fn send(&self, to: Option<&str>, message: MessageType, remainder: String) {
        self.shared.send(to, message, &remainder);
    }

    fn close(&self) {
        self.shared.close();
    }
}

impl Drop for WsTransport {
    // The synchronizer was dropped without `destroy`: its socket must not outlive it.
    fn drop(&mut self) {
        self.shared.close();
    }
}
