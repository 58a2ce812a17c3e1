//! The newsletter example as a separate process (the `newsletter-server` binary of this
//! package), for tests that run several servers, kill them, or read their logs.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{try_send, Request, SECRET};

/// One newsletter server process, killed when dropped.
pub struct Process {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The process, for killing it.
    pub child: Child,
}

impl Process {
    /// Starts `binary` (pass `env!("CARGO_BIN_EXE_newsletter-server")`, which only integration
    /// tests can name) on `database_url`, its log (at `normal` level) going to `log` if given,
    /// nowhere otherwise; returns once it answers `/health`.
    pub fn start(binary: &str, database_url: &str, log: Option<&std::path::Path>) -> Process {
        for _ in 0..5 {
            let mut process = Process::spawn(binary, database_url, log);
            if process.wait_healthy() {
                return process;
            }
        }
        panic!("no newsletter server came up");
    }

    /// Starts `count` servers at the same moment on one database (so they race to create its
    /// tables), and returns once all answer `/health`.
    pub fn start_together(binary: &str, database_url: &str, count: usize) -> Vec<Process> {
        let mut started: Vec<Process> = (0..count)
            .map(|_| Process::spawn(binary, database_url, None))
            .collect();
        for process in &mut started {
            if !process.wait_healthy() {
                // Its port was taken between our choosing it and its binding: start it again.
                *process = Process::start(binary, database_url, None);
            }
        }
        started
    }

    fn spawn(binary: &str, database_url: &str, log: Option<&std::path::Path>) -> Process {
        // A free port now; `start` tries again if another process takes it first.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", port.to_string())
            .env(
                "ROCKET_LOG_LEVEL",
                if log.is_some() { "normal" } else { "off" },
            )
            .env("ROCKET_CLI_COLORS", "false")
            .env("ROCKET_LINKTOKEN", format!("{{secret=\"{SECRET}\"}}"))
            .env(
                "ROCKET_DATABASES",
                format!("{{newsletter={{url=\"{database_url}\"}}}}"),
            )
            .stdout(output(log))
            .stderr(output(log))
            .spawn()
            .expect("the newsletter server starts");
        Process {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        }
    }

    /// Waits until the server answers `/health`: false if it exits or a minute passes.
    fn wait_healthy(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if try_send(self.addr, &Request::new("GET", "/health")).is_ok_and(|r| r.status == 200) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn output(log: Option<&std::path::Path>) -> Stdio {
    match log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            Stdio::from(file)
        }
        None => Stdio::null(),
    }
}
