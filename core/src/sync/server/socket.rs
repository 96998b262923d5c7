//! One WebSocket connection after its upgrade: the writer task, and the reader that decodes,
//! validates and delivers each message (legacy and multiplexed framing).

use hyper_util::rt::TokioIo;

use super::*;

/// What the upgrade decided about a socket before hyper handed the connection over.
pub(super) struct Accepted {
    pub(super) conn: u64,
    pub(super) peer: SocketAddr,
    pub(super) client_id: String,
    pub(super) path: String,
    pub(super) multiplexed: bool,
    pub(super) read_only: bool,
    /// The upgrade request's target and headers (kept for per-channel auth calls).
    pub(super) url: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) echoed: Option<String>,
    pub(super) out: Arc<ConnOut>,
    pub(super) rx: mpsc::UnboundedReceiver<String>,
    pub(super) close_rx: oneshot::Receiver<CloseRequest>,
    pub(super) closing_rx: watch::Receiver<bool>,
}

/// Runs an upgraded socket until it closes: the writer task, the reader, then the clean-up.
pub(super) async fn run_socket(shared: Arc<Shared>, io: WsIo, accepted: Accepted) {
    let Accepted {
        conn,
        peer,
        client_id,
        path,
        multiplexed,
        read_only,
        url,
        headers,
        echoed,
        out,
        rx,
        close_rx,
        closing_rx,
    } = accepted;
    // One line per connection (never a cell value): the room is the path (a multiplexed
    // socket's rooms are its channels, logged as they subscribe).
    tracing::info!(%peer, conn, room = path, client_id, multiplexed, read_only, "connection open");
    shared.metrics.connection(true);
    let log_room = path.clone();
    let log_client = client_id.clone();
    let config = WebSocketConfig::default()
        .max_message_size(Some(WS_MAX_MESSAGE))
        .max_frame_size(Some(WS_MAX_MESSAGE))
        .read_buffer_size(WS_READ_BUFFER);
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    let (sink, stream) = ws.split();
    if let Some(hook) = &shared.cfg.on_trace {
        hook(TraceEvent::Open {
            conn,
            url: &url,
            protocol: echoed.as_deref().unwrap_or(""),
            key: &client_id,
        });
    }
    let writer = tokio::spawn(write_loop(
        shared.clone(),
        sink,
        rx,
        close_rx,
        out.clone(),
        conn,
    ));
    let mode = if multiplexed {
        let keep = shared.cfg.auth.is_some();
        Mode::Multiplexed(Mux {
            base: path,
            url: if keep { url } else { String::new() },
            headers: if keep { headers } else { Vec::new() },
            negotiated: false,
            channels: HashMap::new(),
        })
    } else {
        Mode::Legacy {
            path,
            decoder: PayloadDecoder::new(shared.cfg.request_timeout.as_millis() as u64),
            read_only,
        }
    };
    let mut socket = Socket {
        shared: shared.clone(),
        conn,
        client_id,
        out: out.clone(),
        budget: FragmentBudget::default(),
        mode,
    };
    socket.read_loop(stream, closing_rx).await;
    shared.with_state(|st| st.detach(conn));
    out.close(None);
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    if let Some(hook) = &shared.cfg.on_trace {
        hook(TraceEvent::Close { conn });
    }
    shared.metrics.connection(false);
    tracing::info!(
        conn,
        room = log_room,
        client_id = log_client,
        "connection closed"
    );
}

/// An upgraded connection, as hyper hands it over.
pub(super) type WsIo = TokioIo<hyper::upgrade::Upgraded>;
pub(super) type WsSink = SplitSink<WebSocketStream<WsIo>, WsMessage>;
pub(super) type WsStream = SplitStream<WebSocketStream<WsIo>>;

/// Sends the close frame (bounded: a client that does not read cannot take it), or nothing.
pub(super) async fn send_close(sink: &mut WsSink, close: CloseRequest) {
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(WsMessage::Close(Some(frame)))).await;
    }
}

/// Drains a socket's queue into the WebSocket; a close request jumps the queue (TinyBase
/// closes an overflowing client at once, whatever it still had queued).
pub(super) async fn write_loop(
    shared: Arc<Shared>,
    mut sink: WsSink,
    mut rx: mpsc::UnboundedReceiver<String>,
    mut close_rx: oneshot::Receiver<CloseRequest>,
    out: Arc<ConnOut>,
    conn: u64,
) {
    loop {
        let payload = tokio::select! {
            biased;
            close = &mut close_rx => return send_close(&mut sink, close.ok().flatten()).await,
            p = rx.recv() => match p {
                Some(p) => p,
                None => return,
            },
        };
        out.queued.fetch_sub(1, Ordering::AcqRel);
        out.queued_bytes.fetch_sub(payload.len(), Ordering::AcqRel);
        if let Some(hook) = &shared.cfg.on_trace {
            hook(TraceEvent::Frame {
                conn,
                sent: true,
                data: &payload,
            });
        }
        // Batch: flush only when the queue is drained (or the writer must wait anyway).
        let sent = tokio::select! {
            biased;
            close = &mut close_rx => return send_close(&mut sink, close.ok().flatten()).await,
            r = async {
                sink.feed(WsMessage::text(payload)).await?;
                if rx.is_empty() {
                    sink.flush().await?;
                }
                Ok::<(), tokio_tungstenite::tungstenite::Error>(())
            } => r,
        };
        if sent.is_err() {
            return;
        }
        shared.frames_out.fetch_add(1, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------- reading

pub(super) struct Channel {
    path: String,
    decoder: PayloadDecoder,
    read_only: bool,
}

pub(super) struct Mux {
    base: String,
    /// The upgrade request's headers, for the per-channel [`AuthHook`] calls (kept only when
    /// there is a hook).
    headers: Vec<(String, String)>,
    /// The upgrade request's target, likewise.
    url: String,
    negotiated: bool,
    channels: HashMap<String, Channel>,
}

pub(super) enum Mode {
    Legacy {
        path: String,
        decoder: PayloadDecoder,
        read_only: bool,
    },
    Multiplexed(Mux),
}

pub(super) struct Socket {
    shared: Arc<Shared>,
    conn: u64,
    client_id: String,
    out: Arc<ConnOut>,
    budget: FragmentBudget,
    mode: Mode,
}

/// Why a frame ends the socket.
pub(super) enum Refusal {
    Protocol(ProtocolError),
    Policy(String),
}

impl From<ProtocolError> for Refusal {
    fn from(e: ProtocolError) -> Self {
        Refusal::Protocol(e)
    }
}

impl Socket {
    async fn read_loop(&mut self, mut stream: WsStream, mut closing: watch::Receiver<bool>) {
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let next = match deadline {
                Some(d) => match tokio::time::timeout_at(d, stream.next()).await {
                    Ok(n) => n,
                    Err(_) => return,
                },
                None => tokio::select! {
                    n = stream.next() => n,
                    _ = closing.wait_for(|c| *c) => {
                        deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
                        continue;
                    }
                },
            };
            let Some(frame) = next else {
                return;
            };
            let refusal = match frame {
                Ok(WsMessage::Text(text)) => {
                    self.shared.frames_in.fetch_add(1, Ordering::Relaxed);
                    if let Some(hook) = &self.shared.cfg.on_trace {
                        hook(TraceEvent::Frame {
                            conn: self.conn,
                            sent: false,
                            data: text.as_str(),
                        });
                    }
                    if self.out.is_closing() {
                        continue;
                    }
                    match self.on_text(text.as_str()).await {
                        Ok(()) => continue,
                        Err(r) => r,
                    }
                }
                Ok(WsMessage::Binary(_)) => {
                    self.shared.frames_in.fetch_add(1, Ordering::Relaxed);
                    Refusal::Protocol(ProtocolError::Invalid)
                }
                Ok(_) => continue,
                Err(tokio_tungstenite::tungstenite::Error::Capacity(_)) => {
                    Refusal::Protocol(ProtocolError::Overflow("socket"))
                }
                Err(tokio_tungstenite::tungstenite::Error::Utf8(_)) => {
                    Refusal::Protocol(ProtocolError::Invalid)
                }
                Err(e) => {
                    tracing::debug!(conn = self.conn, error = %e, "socket read error");
                    return;
                }
            };
            if self.out.is_closing() {
                // Already closing: a second error means the stream is unusable.
                if deadline.is_some() {
                    return;
                }
                continue;
            }
            let (code, reason) = match refusal {
                Refusal::Protocol(e) => (e.close_code(), e.to_string()),
                Refusal::Policy(reason) => (CLOSE_POLICY, reason),
            };
            let shared = self.shared.clone();
            let conn = self.conn;
            shared.with_state(|st| st.close_conn(conn, code, &reason));
            if let Mode::Multiplexed(mux) = &mut self.mode {
                for channel in mux.channels.values_mut() {
                    channel.decoder.clear(&mut self.budget);
                }
            }
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Refusal> {
        let now = self.shared.now_ms();
        match &mut self.mode {
            Mode::Legacy {
                path,
                decoder,
                read_only,
            } => {
                if let Some(decoded) = decoder.decode_relayed(text, now, &mut self.budget)? {
                    let (path, read_only) = (path.clone(), *read_only);
                    self.deliver(&path, read_only, decoded);
                }
                Ok(())
            }
            Mode::Multiplexed(_) => self.on_multiplexed(text, now).await,
        }
    }

    async fn on_multiplexed(&mut self, text: &str, now: u64) -> Result<(), Refusal> {
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(ProtocolError::Overflow("socket").into());
        }
        if let Some(control) = parse_control(text) {
            return self.on_control(control).await;
        }
        let Mode::Multiplexed(mux) = &mut self.mode else {
            return Ok(());
        };
        match parse_channel_frame(text) {
            Some(ChannelFrame::Oversized) => Err(ProtocolError::Overflow("channels").into()),
            Some(ChannelFrame::Data { channel, payload }) => {
                if !mux.negotiated {
                    return Err(ProtocolError::Invalid.into());
                }
                let Some(ch) = mux.channels.get_mut(channel) else {
                    return Err(ProtocolError::Invalid.into());
                };
                if let Some(decoded) = ch.decoder.decode_relayed(payload, now, &mut self.budget)? {
                    let (path, read_only) = (ch.path.clone(), ch.read_only);
                    self.deliver(&path, read_only, decoded);
                }
                Ok(())
            }
            None => Err(ProtocolError::Invalid.into()),
        }
    }

    async fn on_control(
        &mut self,
        control: crate::sync::protocol::ControlFrame,
    ) -> Result<(), Refusal> {
        let Mode::Multiplexed(mux) = &mut self.mode else {
            return Ok(());
        };
        let ack = control_payload(
            control.request_id.as_deref(),
            control.control,
            &control.body,
        );
        match control.control {
            Control::Hello => {
                mux.negotiated = true;
                self.push_own(ack);
                Ok(())
            }
            // TinyBase ignores channel controls before Hello.
            _ if !mux.negotiated => Ok(()),
            Control::Subscribe => {
                let channel = control.channel().unwrap_or("").to_string();
                if is_channel_id_too_large(&channel) {
                    return Err(ProtocolError::Overflow("channels").into());
                }
                if mux.channels.contains_key(&channel) {
                    self.push_own(ack);
                    return Ok(());
                }
                if mux.channels.len() >= MAX_CHANNELS {
                    return Err(ProtocolError::Overflow("channels").into());
                }
                let path = channel_path(&mux.base, &channel);
                let decision = run_auth(
                    &self.shared,
                    AuthRequest {
                        purpose: AuthPurpose::Join,
                        url: mux.url.clone(),
                        path: path.clone(),
                        client_id: self.client_id.clone(),
                        headers: mux.headers.clone(),
                    },
                )
                .await;
                let read_only = match decision {
                    AuthDecision::Accept => false,
                    AuthDecision::ReadOnly => true,
                    AuthDecision::Reject { reason, .. } => return Err(Refusal::Policy(reason)),
                };
                let shared = self.shared.clone();
                let (conn, client_id) = (self.conn, self.client_id.clone());
                let out = self.out.clone();
                let joined = shared.with_state(|st| {
                    let r = st.join(conn, &path, &client_id, Some(&channel));
                    if r.is_ok() && !out.push(ack, MAX_SOCKET_QUEUE_BYTES) {
                        st.close_conn(
                            conn,
                            crate::sync::protocol::CLOSE_OVERFLOW,
                            &ProtocolError::Overflow("socket").to_string(),
                        );
                    }
                    r
                });
                match joined {
                    Ok(()) => {
                        tracing::info!(
                            conn = self.conn,
                            room = path,
                            client_id = self.client_id,
                            read_only,
                            "channel subscribed"
                        );
                        let Mode::Multiplexed(mux) = &mut self.mode else {
                            return Ok(());
                        };
                        mux.channels.insert(
                            channel,
                            Channel {
                                path,
                                decoder: PayloadDecoder::new(
                                    self.shared.cfg.request_timeout.as_millis() as u64,
                                ),
                                read_only,
                            },
                        );
                        Ok(())
                    }
                    Err(JoinError::Duplicate) => Err(Refusal::Policy("duplicate client id".into())),
                    Err(JoinError::TooManyRooms) => Err(ProtocolError::Overflow("rooms").into()),
                    Err(JoinError::ShuttingDown) => Ok(()),
                }
            }
            Control::Unsubscribe => {
                let channel = control.channel().unwrap_or("").to_string();
                if is_channel_id_too_large(&channel) {
                    return Err(ProtocolError::Overflow("channels").into());
                }
                if let Some(mut ch) = mux.channels.remove(&channel) {
                    ch.decoder.clear(&mut self.budget);
                    let shared = self.shared.clone();
                    let conn = self.conn;
                    shared.with_state(|st| st.leave(conn, &ch.path));
                }
                Ok(())
            }
        }
    }

    /// Queues a frame for this socket (control acks), closing it if over its limits.
    fn push_own(&self, payload: String) {
        if !self.out.push(payload, MAX_SOCKET_QUEUE_BYTES) {
            let conn = self.conn;
            self.shared.with_state(|st| {
                st.close_conn(
                    conn,
                    crate::sync::protocol::CLOSE_OVERFLOW,
                    &ProtocolError::Overflow("socket").to_string(),
                )
            });
        }
    }

    /// Relays (or buffers, while the room starts) a validated message from this socket.
    fn deliver(&self, path: &str, read_only: bool, decoded: Relayed) {
        let started = Instant::now();
        let bytes = decoded.remainders.iter().map(String::len).sum();
        self.shared
            .metrics
            .message(Direction::In, Some(decoded.message), bytes);
        if read_only && decoded.is_write {
            tracing::debug!(
                path,
                client_id = self.client_id,
                "dropped a read-only client's write"
            );
            return;
        }
        let conn = self.conn;
        let from = self.client_id.as_str();
        self.shared
            .with_state(|st| st.deliver(path, conn, from, decoded));
        self.shared.metrics.fanout(started.elapsed());
    }
}
