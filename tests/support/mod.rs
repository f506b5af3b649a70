//! Helpers for end-to-end tests: run the real `logferry` binary with a config, feed it,
//! and read what it wrote. Waiting is done by polling with a deadline, never fixed sleeps.

#![allow(dead_code)]

pub mod file;
pub mod loki;
pub mod loki_proto;
pub mod numbered;
pub mod otlp;
pub mod syslog;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logferry")
}

/// A temp dir with a config file in it.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Setup {
    /// Writes `config` (with `@DIR@` replaced by the temp dir) to `logferry.toml`.
    pub fn new(config: &str) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("logferry.toml");
        let text = config.replace("@DIR@", dir.path().to_str().unwrap());
        std::fs::write(&config_path, text).expect("write config");
        Setup {
            dir,
            config: config_path,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `logferry --config <config> ARGS` with `stdin` and waits for it.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with(
            Command::new(bin())
                .arg("--config")
                .arg(&self.config)
                .args(args),
            stdin,
        )
    }
}

/// Runs a command to completion with `stdin`, failing the test after 60 s.
pub fn run_with(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn logferry");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = wait_output(child, Duration::from_secs(60));
    writer.join().unwrap();
    output
}

/// Waits for a child to exit within `limit`, collecting its output; kills it otherwise.
pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let status = wait_exit(&mut child, limit);
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Waits for exit; kills the child and fails the test after `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("logferry did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of the first sample in Prometheus text `metrics` whose line starts with `name`
/// (labels included, in their rendered order).
pub fn metric_value(metrics: &str, name: &str) -> Option<u64> {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Polls `check` every 20 ms until it returns `Some`, failing after `limit`.
pub fn eventually<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running logferry whose stderr lines are collected in the background.
pub struct Running {
    pub child: Child,
    pub stderr: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    /// Starts `logferry --config PATH` with piped stdin, stdout discarded.
    pub fn start(config: &Path) -> Running {
        Running::start_with(Command::new(bin()), config)
    }

    /// Like [`Running::start`], with a prepared command (environment, say).
    pub fn start_with(mut cmd: Command, config: &Path) -> Running {
        cmd.arg("--config")
            .arg(config)
            .arg("--log-format")
            .arg("json");
        Running::spawn(cmd, false)
    }

    /// Spawns a prepared command with piped stdin and stderr (JSON logs expected), and
    /// stdout piped when `capture_stdout`.
    pub fn spawn(mut cmd: Command, capture_stdout: bool) -> Running {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(if capture_stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn logferry");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            stderr: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line containing `needle` and returns it.
    pub fn wait_log(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needle:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The address a listener bound, from its startup log line, for an address that starts
    /// with `scheme` (`udp://`, `tcp://`, …), without the scheme.
    pub fn listening(&mut self, scheme: &str) -> String {
        loop {
            let found = self.seen.iter().find_map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).ok()?;
                let address = v["fields"]["address"].as_str()?;
                address.strip_prefix(scheme).map(str::to_string)
            });
            if let Some(address) = found {
                return address;
            }
            let line = self.wait_next_log();
            self.seen.push(line);
        }
    }

    fn wait_next_log(&mut self) -> String {
        self.stderr
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no more log lines; saw:\n{}", self.seen.join("\n")))
    }

    /// The admin address from the startup log (`admin.listen` with port 0).
    pub fn admin_address(&mut self) -> String {
        let line = self.wait_log("admin endpoint listening");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json log line");
        v["fields"]["address"]
            .as_str()
            .expect("address field")
            .to_string()
    }

    /// Stops with SIGTERM and returns every log line it wrote.
    pub fn stop_and_collect_logs(&mut self) -> Vec<String> {
        self.terminate();
        let status = wait_exit(&mut self.child, Duration::from_secs(30));
        assert!(status.success(), "{status:?}");
        // The reader thread ends at EOF, which closes the channel.
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.0 GET: (status, body).
pub fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connect admin");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Parses NDJSON into values, failing on any invalid line.
pub fn ndjson(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line {l:?}: {e}")))
        .collect()
}

/// The string bodies of NDJSON records.
pub fn bodies(text: &str) -> Vec<String> {
    ndjson(text)
        .iter()
        .map(|v| {
            v["body"]["stringValue"]
                .as_str()
                .expect("string body")
                .to_string()
        })
        .collect()
}

/// Where `tests/peers/*/setup.sh` install the peers: `$LOGFERRY_PEERS_DIR`, else
/// `~/.cache/logferry-peers`.
pub fn peers_cache() -> PathBuf {
    std::env::var_os("LOGFERRY_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/logferry-peers")
        })
}

/// A local TCP port free at the time of asking.
/// `LOGFERRY_CHAOS_SCALE` (default 1): how many times longer the chaos tests run (kills,
/// records, outage time); the long chaos run (`scripts/chaos.sh`) sets it.
pub fn chaos_scale() -> usize {
    std::env::var("LOGFERRY_CHAOS_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
