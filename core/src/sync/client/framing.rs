//! One open socket's two tasks: the writer (frames, fragments, the close handshake) and the
//! reader (legacy or multiplexed frames, reassembly, validation, delivery).

use super::*;

pub(super) async fn write_loop(
    shared: Arc<Shared>,
    mut sink: WsSink,
    mut rx: mpsc::UnboundedReceiver<Out>,
    mut abort: watch::Receiver<Option<(u16, String)>>,
    outstanding: Arc<AtomicUsize>,
) {
    async fn close(sink: &mut WsSink, code: u16, reason: String) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(WsMessage::Close(Some(frame)))).await;
    }
    fn aborted(abort: &watch::Receiver<Option<(u16, String)>>) -> Option<(u16, String)> {
        abort.borrow().clone()
    }
    loop {
        let out = tokio::select! {
            biased;
            changed = abort.changed() => {
                if changed.is_ok() && let Some((code, reason)) = aborted(&abort) {
                    close(&mut sink, code, reason).await;
                }
                return;
            }
            out = rx.recv() => match out {
                Some(out) => out,
                None => return,
            },
        };
        match out {
            Out::Frame(text) => {
                outstanding.fetch_sub(text.len(), Ordering::SeqCst);
                shared.frame_hook(FrameDirection::Send, &text);
                let sent = tokio::select! {
                    biased;
                    changed = abort.changed() => {
                        if changed.is_ok() && let Some((code, reason)) = aborted(&abort) {
                            close(&mut sink, code, reason).await;
                        }
                        return;
                    }
                    sent = async {
                        sink.feed(WsMessage::text(text)).await?;
                        // Batch: flush once the queue is drained.
                        if rx.is_empty() {
                            sink.flush().await?;
                        }
                        Ok::<(), WsError>(())
                    } => sent,
                };
                if sent.is_err() {
                    return;
                }
            }
            Out::Close(code, reason) => {
                close(&mut sink, code, reason).await;
                return;
            }
        }
    }
}

/// Decodes the frames of one connection.
pub(super) struct Reader {
    pub(super) decoder: PayloadDecoder,
    pub(super) budget: FragmentBudget,
}

impl Reader {
    pub(super) fn on_text(
        &mut self,
        shared: &Shared,
        text: &str,
    ) -> Result<Option<(String, Message)>, ProtocolError> {
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(ProtocolError::Overflow("socket"));
        }
        let payload = match &shared.channel {
            None => text,
            Some(ours) => {
                if let Some(control) = parse_control(text) {
                    if matches!(control.control, Control::Subscribe | Control::Unsubscribe)
                        && control.channel().is_some_and(is_channel_id_too_large)
                    {
                        return Err(ProtocolError::Overflow("channels"));
                    }
                    return Ok(None);
                }
                match parse_channel_frame(text) {
                    Some(ChannelFrame::Data { channel, payload }) if channel == ours => payload,
                    Some(ChannelFrame::Oversized) => {
                        return Err(ProtocolError::Overflow("channels"));
                    }
                    _ => return Err(ProtocolError::Invalid),
                }
            }
        };
        let now = crate::hlc::wall_clock_ms();
        Ok(self
            .decoder
            .decode(payload, now, &mut self.budget)?
            .map(|d| (d.client_id, d.message)))
    }
}

pub(super) fn deliver(shared: &Shared, from: &str, message: Message) {
    let Some(sync) = shared.synchronizer() else {
        return;
    };
    // Applying changes runs store listeners and takes the store's lock: off the worker's core.
    tokio::task::block_in_place(|| {
        if catch_unwind(AssertUnwindSafe(|| sync.receive(from, message))).is_err() {
            log_warn("a store listener panicked while applying a remote message");
        }
    });
}

pub(super) async fn read_loop(
    shared: &Arc<Shared>,
    mut source: WsSource,
    tx: &mpsc::UnboundedSender<Out>,
    early: Vec<String>,
    closing: &mut watch::Receiver<bool>,
) {
    let mut reader = Reader {
        decoder: PayloadDecoder::with_max_message(
            shared.request_timeout.as_millis() as u64,
            MAX_SERVER_MESSAGE_BYTES,
        ),
        budget: FragmentBudget::default(),
    };
    let mut receiving = true;
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut on_text = |text: &str, deadline: &mut Option<tokio::time::Instant>| {
        if !receiving {
            return;
        }
        match reader.on_text(shared, text) {
            Ok(Some((from, message))) => deliver(shared, &from, message),
            Ok(None) => {}
            Err(e) => {
                receiving = false;
                if e == ProtocolError::Invalid {
                    shared.report(&SyncError::InvalidMessage);
                }
                log_warn(&format!(
                    "closing the socket: the server sent an invalid frame ({e})"
                ));
                shared.go_down();
                let _ = tx.send(Out::Close(e.close_code(), e.to_string()));
                *deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
            }
        }
    };
    for text in early {
        shared.frame_hook(FrameDirection::Receive, &text);
        on_text(&text, &mut deadline);
    }
    loop {
        let closed = deadline.is_some();
        tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c), if !closed => {
                shared.go_down();
                if let Some(channel) = &shared.channel {
                    let unsubscribe = control_payload(None, Control::Unsubscribe, &Json::from(channel.as_str()));
                    let _ = tx.send(Out::Frame(unsubscribe));
                }
                let _ = tx.send(Out::Close(CLOSE_NORMAL, String::new()));
                deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
            }
            _ = sleep_until(deadline), if closed => return,
            next = source.next() => match next {
                Some(Ok(WsMessage::Text(text))) => {
                    shared.frame_hook(FrameDirection::Receive, text.as_str());
                    on_text(text.as_str(), &mut deadline);
                }
                Some(Ok(WsMessage::Binary(bytes))) => {
                    // TinyBase reads every frame as UTF-8 text (`data.toString('utf8')`).
                    let text = String::from_utf8_lossy(&bytes);
                    shared.frame_hook(FrameDirection::Receive, &text);
                    on_text(&text, &mut deadline);
                }
                // Pings are answered and close frames replied to by tungstenite.
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    if matches!(e, WsError::Capacity(_)) {
                        log_warn("closing the socket: the server sent a frame over 16 MiB");
                    }
                    return;
                }
                None => return,
            },
        }
    }
}

pub(super) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
