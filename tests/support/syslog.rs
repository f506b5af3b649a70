//! A logferry with a syslog input writing to a file, and the real senders the syslog tests
//! drive: util-linux `logger`, rsyslog and syslog-ng through `tests/peers/syslog/*.sh`.

use super::{Running, Setup, eventually, ndjson};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The peer scripts.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/syslog")
}

/// A running logferry with `[inputs.sys] type = "syslog"` (extra keys in `input_extra`) and
/// a file output with short batching.
pub struct Receiver {
    pub setup: Setup,
    pub running: Running,
}

impl Receiver {
    /// Starts logferry listening on `listen` (use port 0) with extra input keys.
    pub fn start(listen: &[&str], input_extra: &str) -> Receiver {
        let listen: Vec<String> = listen.iter().map(|l| format!("\"{l}\"")).collect();
        let setup = Setup::new(&format!(
            r#"
            [admin]
            listen = "127.0.0.1:0"
            [inputs.sys]
            type = "syslog"
            listen = [{}]
            {input_extra}
            [outputs.out]
            type = "file"
            inputs = ["sys"]
            path = "@DIR@/out.ndjson"
            batch = {{ max_age = "20ms" }}
            "#,
            listen.join(", ")
        ));
        let mut running = Running::start(&setup.config);
        running.wait_log("logferry started");
        Receiver { setup, running }
    }

    /// The bound port of the endpoint with this scheme.
    pub fn port(&mut self, scheme: &str) -> u16 {
        let address = self.running.listening(&format!("{scheme}://"));
        address.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Waits until at least `n` records are written and returns them all.
    pub fn records(&self, n: usize) -> Vec<serde_json::Value> {
        let path = self.setup.path("out.ndjson");
        eventually(
            Duration::from_secs(30),
            &format!("{n} records in out.ndjson"),
            || {
                let text = std::fs::read_to_string(&path).ok()?;
                // Only whole lines: the file may be mid-write.
                let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
                let records = ndjson(whole);
                (records.len() >= n).then_some(records)
            },
        )
    }

    /// Waits until a record with body `text` is written and returns them all.
    pub fn records_with(&self, text: &str) -> Vec<serde_json::Value> {
        let path = self.setup.path("out.ndjson");
        eventually(
            Duration::from_secs(30),
            &format!("a record {text:?}"),
            || {
                let text_now = std::fs::read_to_string(&path).ok()?;
                let whole = &text_now[..text_now.rfind('\n').map_or(0, |i| i + 1)];
                let records = ndjson(whole);
                records.iter().any(|r| body(r) == text).then_some(records)
            },
        )
    }

    /// Fetches `/metrics`.
    pub fn metrics(&mut self) -> String {
        let address = self.running.admin_address();
        super::http_get(&address, "/metrics").1
    }
}

/// A value of a record attribute (`attributes[].key == key`), as JSON.
pub fn attribute<'a>(record: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    record["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

/// A resource attribute's string value.
pub fn resource_str<'a>(record: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    record["resource"]["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)?["value"]["stringValue"]
        .as_str()
}

/// The string body.
pub fn body(record: &serde_json::Value) -> &str {
    record["body"]["stringValue"].as_str().unwrap_or("")
}

/// Runs `logger ARGS`, which must succeed.
pub fn logger(args: &[&str]) {
    let out = Command::new("logger").args(args).output().expect(
        "util-linux logger is missing: run tests/peers/syslog/setup.sh (scripts/test.sh does)",
    );
    assert!(
        out.status.success(),
        "logger {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Test certificates (`ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key`).
pub fn certs(dir: &Path) -> PathBuf {
    let certs = dir.join("certs");
    let out = Command::new("bash")
        .arg(peers_dir().join("certs.sh"))
        .arg(&certs)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "certs.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    certs
}

/// An rsyslog or syslog-ng forwarding to logferry; killed on drop.
pub struct Peer {
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Peer {
    /// Starts `script` (`rsyslog.sh` / `syslog-ng.sh`) in `mode` towards 127.0.0.1:`port`,
    /// and waits until its input socket exists.
    pub fn start(
        script: &str,
        mode: &str,
        port: u16,
        ca: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Peer {
        let dir = tempfile::Builder::new()
            .prefix("lfp")
            .tempdir_in("/tmp")
            .unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(peers_dir().join(script))
            .args([mode, "127.0.0.1", &port.to_string()])
            .arg(dir.path())
            .env("SENDER_HOSTNAME", "peerhost")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(ca) = ca {
            cmd.arg(ca);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start peer script");
        let mut peer = Peer { child, dir };
        let sock = peer.dir.path().join("in.sock");
        eventually(
            Duration::from_secs(20),
            &format!("{script} {mode} to start"),
            || {
                if let Ok(Some(status)) = peer.child.try_wait() {
                    let log = std::fs::read_dir(peer.dir.path())
                        .map(|d| {
                            d.flatten()
                                .map(|e| e.path().display().to_string())
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default();
                    panic!(
                        "{script} {mode} exited with {status}; files: {log:?} (run tests/peers/syslog/setup.sh)"
                    );
                }
                sock.exists().then_some(())
            },
        );
        peer
    }

    /// The unix datagram socket the daemon reads (BSD/local format, and RFC 5424 for rsyslog).
    pub fn socket(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
