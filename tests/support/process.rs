//! The newsletter example as a separate process (the `newsletter-server` binary of this
//! package), for tests that run several servers, kill them, or read their logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{unique, SECRET};

/// One newsletter server process, killed when dropped.
pub struct Process {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The process, for killing it.
    pub child: Child,
    log: PathBuf,
    own_log: bool,
}

impl Process {
    /// Starts `binary` (pass `env!("CARGO_BIN_EXE_newsletter-server")`, which only integration
    /// tests can name) on `database_url`, and returns once it has launched. Its log goes to
    /// the file `log` names at the level it names (`"normal"`, `"debug"`...), if given, else
    /// to a file of its own at `critical`.
    pub fn start(binary: &str, database_url: &str, log: Option<(&Path, &str)>) -> Process {
        Process::start_with(binary, database_url, log, &[])
    }

    /// Like [`Process::start`], with more environment variables (`ROCKET_PROFILE`...).
    pub fn start_with(
        binary: &str,
        database_url: &str,
        log: Option<(&Path, &str)>,
        env: &[(&str, &str)],
    ) -> Process {
        let mut process = Process::spawn(binary, database_url, log, env);
        process.wait_launched();
        process
    }

    /// Starts `count` servers at the same moment on one database (so they race to create its
    /// tables), and returns once all have launched.
    pub fn start_together(binary: &str, database_url: &str, count: usize) -> Vec<Process> {
        let mut started: Vec<Process> = (0..count)
            .map(|_| Process::spawn(binary, database_url, None, &[]))
            .collect();
        started.iter_mut().for_each(Process::wait_launched);
        started
    }

    fn spawn(
        binary: &str,
        database_url: &str,
        log: Option<(&Path, &str)>,
        env: &[(&str, &str)],
    ) -> Process {
        let (path, level, own_log) = match log {
            Some((path, level)) => (path.to_path_buf(), level, false),
            None => (
                std::env::temp_dir().join(format!("{}.log", unique("linktoken-server"))),
                "critical",
                true,
            ),
        };
        let file = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap()
        };
        // Port 0: the system picks a free port, and the log says which, so no two servers of
        // concurrent tests can ever be mistaken for each other.
        let child = command(binary, database_url, level)
            .envs(env.iter().copied())
            .stdout(Stdio::from(file()))
            .stderr(Stdio::from(file()))
            .spawn()
            .expect("the newsletter server starts");
        let unknown = SocketAddr::from(([127, 0, 0, 1], 0));
        Process {
            addr: unknown,
            child,
            log: path,
            own_log,
        }
    }

    /// Waits for Rocket's launch line, which names the address it bound.
    fn wait_launched(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(addr) = launched_at(&log) {
                self.addr = addr;
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the newsletter server exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "the newsletter server did not launch:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The command that runs `binary` (the newsletter server) on `database_url`, on a port the
/// system picks, logging at `level` without colors, with the tests' secret. Its output is the
/// caller's to direct.
pub fn command(binary: &str, database_url: &str, level: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_PORT", "0")
        .env("ROCKET_LOG_LEVEL", level)
        .env("ROCKET_CLI_COLORS", "false")
        .env("ROCKET_LINKTOKEN", format!("{{secret=\"{SECRET}\"}}"))
        .env(
            "ROCKET_DATABASES",
            format!("{{newsletter={{url=\"{database_url}\"}}}}"),
        );
    command
}

/// The address in Rocket's launch line, once `log` holds it.
pub fn launched_at(log: &str) -> Option<SocketAddr> {
    log.split("Rocket has launched from http://")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.own_log {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}
