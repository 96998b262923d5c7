//! WebSocket synchronizers.

use super::*;

// ============================================================================ sync

pub(crate) fn options_error(message: impl Into<String>) -> Error {
    err(ErrorKind::InvalidArgument, message)
}

pub(crate) fn millis(value: &Json, key: &str) -> R<Duration> {
    value
        .as_u64()
        .map(Duration::from_millis)
        .ok_or_else(|| options_error(format!("options.{key} must be a non-negative integer")))
}

/// Parses the synchronizer options JSON.
pub(crate) fn ws_options(
    url: &str,
    options: Option<Json>,
) -> R<(WsClientConfig, SynchronizerOptions)> {
    let mut config = WsClientConfig {
        url: url.to_string(),
        ..WsClientConfig::default()
    };
    let mut sync = SynchronizerOptions::default();
    let Some(options) = options else {
        return Ok((config, sync));
    };
    let map = options
        .as_object()
        .ok_or_else(|| options_error("options must be a JSON object"))?;
    for (key, value) in map {
        match key.as_str() {
            "channel" => {
                let channel = value
                    .as_str()
                    .ok_or_else(|| options_error("options.channel must be a string"))?;
                config.channel = Some(channel.to_string());
            }
            "requestTimeoutMs" => sync.request_timeout = Some(millis(value, key)?),
            "connectTimeoutMs" => config.connect_timeout = Some(millis(value, key)?),
            "fragmentSize" => {
                let size = value
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        options_error("options.fragmentSize must be a positive integer")
                    })?;
                config.fragment_size = Some(size);
            }
            "fallbackUrls" => {
                let urls = value
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|u| u.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| {
                        options_error("options.fallbackUrls must be an array of strings")
                    })?;
                config.fallback_urls = urls;
            }
            "reconnect" => {
                let on = value
                    .as_bool()
                    .ok_or_else(|| options_error("options.reconnect must be a boolean"))?;
                config.reconnect = on.then(ReconnectPolicy::default);
            }
            "headers" => {
                let headers = value
                    .as_object()
                    .ok_or_else(|| options_error("options.headers must be an object of strings"))?;
                for (name, v) in headers {
                    let v = v.as_str().ok_or_else(|| {
                        options_error(format!("options.headers.{name} must be a string"))
                    })?;
                    config.headers.push((name.clone(), v.to_string()));
                }
            }
            other => return Err(options_error(format!("unknown option {other:?}"))),
        }
    }
    Ok((config, sync))
}

/// Connects a MergeableStore to a sync server (TinyBase's `createWsSynchronizer`) and sets
/// `*out_synchronizer`. Blocks until the socket is open (at most the connect timeout, 10 s by
/// default). `url` is `ws://host:port/room` (or `wss://`). `options_json` (NULL: defaults) is
/// a JSON object with any of: `"channel"` (string: use the `tinybase` multiplexing
/// subprotocol on that channel), `"requestTimeoutMs"` (default 1000), `"connectTimeoutMs"`
/// (default 10000), `"reconnect"` (bool: retry dropped connections with backoff),
/// `"fallbackUrls"` (array of strings: more servers of the same rooms, tried in turn when a
/// connection cannot be opened or drops),
/// `"fragmentSize"` (bytes), `"headers"` (object of strings). Syncing starts with
/// `tinystore_ws_synchronizer_start_sync`. Remote changes are applied, and store listeners
/// run, on the library's network threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_new(
    store: *mut tinystore_mergeable_store_t,
    url: *const c_char,
    options_json: *const c_char,
    out_synchronizer: *mut *mut tinystore_ws_synchronizer_t,
) -> tinystore_status_t {
    guard(|| {
        let url = unsafe { str_arg(url, "url")? };
        let options = match unsafe { opt_str_arg(options_json, "options_json")? } {
            Some(text) => Some(content::parse_json(text)?),
            None => None,
        };
        let out = Out::new(out_synchronizer, "out_synchronizer")?;
        let (config, options) = ws_options(url, options)?;
        let sync = with_mergeable(store, |m| Ok(WsSynchronizer::connect(m, config, options)?))?;
        let handle = register(Object::Synchronizer(sync));
        out.set(handle as *mut tinystore_ws_synchronizer_t);
        Ok(())
    })
}

/// Destroys the synchronizer (stops syncing, closes the socket, waiting at most 2 s for the
/// close handshake) and frees it. The store keeps its content.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_free(
    synchronizer: *mut tinystore_ws_synchronizer_t,
) -> tinystore_status_t {
    guard(|| {
        let object = unregister(
            synchronizer as usize,
            "synchronizer",
            "a synchronizer",
            |o| matches!(o, Object::Synchronizer(_)),
        )?;
        if let Object::Synchronizer(s) = &*object {
            release_status_listeners(synchronizer as usize, |id| {
                s.del_listener(id);
            });
            s.destroy();
        }
        Ok(())
    })
}

/// Starts syncing: pulls what the peers have (blocking until done, at most about the request
/// timeout), then sends every change of the store as it happens and applies the peers'.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_start_sync(
    synchronizer: *mut tinystore_ws_synchronizer_t,
) -> tinystore_status_t {
    guard(|| {
        with_synchronizer(synchronizer, |s| {
            if s.is_destroyed() {
                return Err(err(
                    ErrorKind::InvalidState,
                    "the synchronizer was destroyed",
                ));
            }
            s.start_sync(None);
            Ok(())
        })
    })
}

/// Stops syncing (the connection stays open).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_stop_sync(
    synchronizer: *mut tinystore_ws_synchronizer_t,
) -> tinystore_status_t {
    guard(|| {
        with_synchronizer(synchronizer, |s| {
            s.stop_sync();
            Ok(())
        })
    })
}

/// The state of the connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_get_connection_status(
    synchronizer: *mut tinystore_ws_synchronizer_t,
    out_status: *mut tinystore_connection_status_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out_status, "out_status")?;
        with_synchronizer(synchronizer, |s| {
            use tinystore_connection_status_t as C;
            out.set(match s.connection_status() {
                ConnectionStatus::Connecting => C::TINYSTORE_CONNECTION_STATUS_CONNECTING,
                ConnectionStatus::Connected => C::TINYSTORE_CONNECTION_STATUS_CONNECTED,
                ConnectionStatus::Disconnected => C::TINYSTORE_CONNECTION_STATUS_DISCONNECTED,
            });
            Ok(())
        })
    })
}

/// How many messages the synchronizer has sent and received.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_get_stats(
    synchronizer: *mut tinystore_ws_synchronizer_t,
    out_sends: *mut u64,
    out_receives: *mut u64,
) -> tinystore_status_t {
    guard(|| {
        let sends = Out::new(out_sends, "out_sends")?;
        let receives = Out::new(out_receives, "out_receives")?;
        with_synchronizer(synchronizer, |s| {
            let stats = s.get_synchronizer_stats();
            sends.set(stats.sends);
            receives.set(stats.receives);
            Ok(())
        })
    })
}
