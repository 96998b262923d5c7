//! The library's shared tokio runtime (created on first use, two worker threads named
//! `tinystore-rt`): every WebSocket client's sockets run on it, and the bindings' async methods
//! run their blocking calls on its blocking pool ([`run_blocking`]), whose threads are reused,
//! instead of starting a thread per call. (A `WsServer` owns a runtime of its own, so that
//! shutting it down stops only its tasks.)

use std::sync::OnceLock;

/// The most threads [`run_blocking`] uses at once; more calls wait for one to be free.
pub const MAX_BLOCKING_THREADS: usize = 64;

/// The shared runtime's handle, or why it could not be created.
///
/// ```
/// let handle = tinystore_core::runtime::handle()?;
/// assert_eq!(handle.block_on(async { 6 * 7 }), 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn handle() -> Result<tokio::runtime::Handle, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(MAX_BLOCKING_THREADS)
            .thread_name("tinystore-rt")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match runtime {
        Ok(rt) => Ok(rt.handle().clone()),
        Err(e) => Err(e.clone()),
    }
}

/// Runs a blocking call on the shared runtime's blocking pool; the returned future completes
/// with its result and may be polled by any executor (a foreign language's event loop
/// included). Without a runtime the call runs on the polling thread. A panic in `f` is resumed
/// in the caller.
///
/// ```
/// use tinystore_core::runtime::{handle, run_blocking};
/// let future = run_blocking(|| std::thread::current().name().map(str::to_string));
/// let name = handle()?.block_on(future);
/// assert_eq!(name.as_deref(), Some("tinystore-rt"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let Ok(handle) = handle() else {
        return f();
    };
    match handle.spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime lives as long as the process: a cancelled task cannot happen.
        Err(e) => panic!("a blocking task of the shared runtime did not finish: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_calls_complete_on_a_pooled_thread() {
        let (tx, rx) = std::sync::mpsc::channel();
        handle().unwrap().spawn(async move {
            let thread = run_blocking(|| std::thread::current().name().map(str::to_string)).await;
            tx.send(thread).unwrap();
        });
        let thread = rx.recv().unwrap();
        assert_eq!(thread.as_deref(), Some("tinystore-rt"));
    }
}
