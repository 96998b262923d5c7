//! Opening one connection: the HTTP request (headers, subprotocol), TCP/TLS and the
//! WebSocket handshake, the multiplexed session's hello, and naming what failed.

use super::*;

pub(super) fn build_request(
    url: &str,
    headers: &[(String, String)],
    multiplexed: bool,
) -> Result<Request, WsClientError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| WsClientError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    for (name, value) in headers {
        let bad = |reason: String| WsClientError::BadHeader {
            name: name.clone(),
            reason,
        };
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(e.to_string()))?;
        let header_value = HeaderValue::from_str(value).map_err(|e| bad(e.to_string()))?;
        request.headers_mut().append(header_name, header_value);
    }
    if multiplexed {
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    Ok(request)
}

pub(super) async fn open(shared: &Arc<Shared>) -> Result<Opened, WsClientError> {
    let waiting_for = Arc::new(Mutex::new("the socket"));
    let timeout = shared.connect_timeout;
    match tokio::time::timeout(timeout, open_inner(shared, waiting_for.clone())).await {
        Ok(opened) => opened,
        Err(_) => Err(WsClientError::Timeout {
            url: shared.current_url(),
            timeout,
            waiting_for: *waiting_for.lock(),
        }),
    }
}

async fn open_inner(
    shared: &Arc<Shared>,
    waiting_for: Arc<Mutex<&'static str>>,
) -> Result<Opened, WsClientError> {
    let current = shared.current_url();
    let url = || current.clone();
    let request = build_request(&current, &shared.headers, shared.channel.is_some())?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(WS_MAX_MESSAGE))
        .max_frame_size(Some(WS_MAX_MESSAGE));
    // A task of its own: a TLS set-up panic (no rustls crypto provider) becomes an error.
    let mut connecting = AbortOnDrop(tokio::spawn(tokio_tungstenite::connect_async_with_config(
        request,
        Some(config),
        true,
    )));
    let ws = match (&mut connecting.0).await {
        Ok(Ok((ws, _response))) => ws,
        Ok(Err(e)) => return Err(connect_error(&current, e)),
        Err(e) => {
            let reason = if e.is_panic() {
                "the connection attempt panicked (for wss://, the process needs a rustls crypto provider)"
            } else {
                "the connection attempt was cancelled"
            };
            return Err(WsClientError::Connect {
                url: url(),
                reason: reason.into(),
            });
        }
    };
    let (sink, mut source) = ws.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let outstanding = Arc::new(AtomicUsize::new(0));
    let (abort, abort_rx) = watch::channel(None);
    let mut writer = AbortOnDrop(tokio::spawn(write_loop(
        shared.clone(),
        sink,
        rx,
        abort_rx,
        outstanding.clone(),
    )));
    let mut early = Vec::new();
    if let Some(channel) = &shared.channel {
        let steps = [
            (Control::Hello, Json::from(1), "the Hello ack"),
            (
                Control::Subscribe,
                Json::from(channel.as_str()),
                "the Subscribe ack",
            ),
        ];
        for (control, body, what) in steps {
            *waiting_for.lock() = what;
            let id = js::unique_id(16);
            let frame = control_payload(Some(&id), control, &body);
            outstanding.fetch_add(frame.len(), Ordering::SeqCst);
            let _ = tx.send(Out::Frame(frame));
            loop {
                let text = match source.next().await {
                    Some(Ok(WsMessage::Text(t))) => t.as_str().to_string(),
                    Some(Ok(WsMessage::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(WsMessage::Close(frame))) => {
                        return Err(WsClientError::ClosedBeforeOpen {
                            url: url(),
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame
                                .map(|f| f.reason.as_str().to_string())
                                .unwrap_or_default(),
                        });
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        return Err(WsClientError::ClosedBeforeOpen {
                            url: url(),
                            code: None,
                            reason: e.to_string(),
                        });
                    }
                    None => {
                        return Err(WsClientError::ClosedBeforeOpen {
                            url: url(),
                            code: None,
                            reason: String::new(),
                        });
                    }
                };
                shared.frame_hook(FrameDirection::Receive, &text);
                if let Some(ack) = parse_control(&text) {
                    let acked = ack.control == control
                        && ack.request_id.as_deref() == Some(id.as_str())
                        && match control {
                            Control::Hello => ack.body.as_f64() == Some(1.0),
                            _ => ack.body.as_str() == Some(channel.as_str()),
                        };
                    if acked {
                        break;
                    }
                    // Acks of other requests are ignored, as TinyBase does.
                    continue;
                }
                match parse_channel_frame(&text) {
                    Some(ChannelFrame::Data { channel: c, .. }) if c == channel => {
                        early.push(text);
                    }
                    _ => {
                        let e = ProtocolError::Invalid;
                        shared.report(&SyncError::InvalidMessage);
                        let _ = tx.send(Out::Close(e.close_code(), e.to_string()));
                        let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer.0).await;
                        return Err(WsClientError::Handshake {
                            url: url(),
                            reason: "the server sent an invalid frame".into(),
                        });
                    }
                }
            }
        }
    }
    Ok(Opened {
        source,
        tx,
        outstanding,
        abort: Arc::new(abort),
        writer,
        early,
    })
}

pub(super) fn connect_error(url: &str, e: WsError) -> WsClientError {
    use tokio_tungstenite::tungstenite::error::ProtocolError as WsProtocolError;
    match e {
        WsError::Http(response) => WsClientError::Rejected {
            url: url.to_string(),
            status: response.status().as_u16(),
        },
        WsError::Url(e) => WsClientError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        },
        WsError::Protocol(WsProtocolError::SecWebSocketSubProtocolError(e)) => {
            WsClientError::Handshake {
                url: url.to_string(),
                reason: format!("the server did not accept the `tinybase` subprotocol ({e})"),
            }
        }
        e => WsClientError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        },
    }
}
