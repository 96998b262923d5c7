//! A `tinystore serve` child process of a workload (W12f's servers on one database, W14's
//! server at scale): started from this binary, its port read from its `PORT <n>` / `READY`
//! lines, stopped when dropped (also when a check panics).

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(super) struct ServeChild {
    child: Child,
    pub(super) port: u16,
}

impl ServeChild {
    /// `tinystore serve --port 0 <args>`; its stderr goes to the bench's when `show_errors`.
    pub(super) fn start<S: AsRef<std::ffi::OsStr>>(
        workload: &str,
        args: impl IntoIterator<Item = S>,
        show_errors: bool,
    ) -> ServeChild {
        let exe = std::env::current_exe().expect("the bench knows its binary");
        let mut child = Command::new(exe)
            .args(["serve", "--port", "0"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if show_errors {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("{workload}: tinystore serve does not start: {e}"));
        let stdout = child.stdout.take().expect("piped");
        let mut port = None;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(p) = line.strip_prefix("PORT ") {
                port = p.trim().parse().ok();
            }
            if line == "READY" {
                break;
            }
        }
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{workload}: tinystore serve printed no port");
        };
        ServeChild { child, port }
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        // Closing stdin asks for a clean stop (rooms saved); a server that takes longer than
        // this is killed, so a failed run never leaves one behind.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
