//! Every sender recipe in `docs/senders/` (shown in the README) run as written, against a
//! logferry listening on the ports the recipes name, with only the host name, the ports and
//! the log path replaced: rsyslog, syslog-ng, util-linux logger, Filebeat (both outputs), an
//! OpenTelemetry SDK configured by environment, and the OpenTelemetry Collector.

use crate::support::{Running, eventually, ndjson};
use crate::support::{free_port, peers_cache};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A logferry with every receiving input, and the substitutions that point a recipe at it.
struct Target {
    dir: tempfile::TempDir,
    _running: Running,
    ports: [(u16, u16); 5],
}

impl Target {
    fn start() -> Target {
        let dir = tempfile::tempdir().unwrap();
        let [syslog, grpc, http, es, beats] = [0; 5].map(|_| free_port());
        let config = dir.path().join("logferry.toml");
        std::fs::write(
            &config,
            format!(
                r#"
                data_dir = "{d}/state"
                [admin]
                listen = "127.0.0.1:0"
                [inputs.syslog]
                type = "syslog"
                listen = ["tcp://127.0.0.1:{syslog}", "udp://127.0.0.1:{syslog}"]
                [inputs.otel]
                type = "otlp"
                grpc = "127.0.0.1:{grpc}"
                http = "127.0.0.1:{http}"
                [inputs.es]
                type = "elasticsearch"
                listen = "127.0.0.1:{es}"
                [inputs.beats]
                type = "beats"
                listen = "127.0.0.1:{beats}"
                [outputs.out]
                type = "file"
                inputs = ["syslog", "otel", "es", "beats"]
                path = "{d}/out.ndjson"
                "#,
                d = dir.path().display()
            ),
        )
        .unwrap();
        let mut running = Running::start(&config);
        running.wait_log("Beats listening");
        Target {
            dir,
            _running: running,
            ports: [
                (5514, syslog),
                (4317, grpc),
                (4318, http),
                (9200, es),
                (5044, beats),
            ],
        }
    }

    /// The recipe `name` with the example host, the default ports and the example log path
    /// replaced by this test's.
    fn recipe(&self, name: &str) -> String {
        let mut text = std::fs::read_to_string(root().join("docs/senders").join(name)).unwrap();
        text = text.replace("logferry.example.com", "127.0.0.1");
        // Through placeholders, so that a new port is never taken for a default one.
        for (i, (default, _)) in self.ports.iter().enumerate() {
            text = text.replace(&default.to_string(), &format!("@PORT{i}@"));
        }
        for (i, (_, port)) in self.ports.iter().enumerate() {
            text = text.replace(&format!("@PORT{i}@"), &port.to_string());
        }
        text.replace(
            "/var/log/app/",
            &format!("{}/app/", self.dir.path().display()),
        )
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits until a record whose body contains `needle` arrived, and returns it.
    fn wait_body(&self, needle: &str) -> serde_json::Value {
        eventually(Duration::from_secs(60), needle, || {
            let text = std::fs::read_to_string(self.path("out.ndjson")).ok()?;
            let text = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            ndjson(text).into_iter().find(|r| {
                r["body"]["stringValue"]
                    .as_str()
                    .is_some_and(|b| b.contains(needle))
            })
        })
    }
}

/// A child killed when the test ends.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command, log: &Path) -> Peer {
    Peer(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}")),
    )
}

fn wait_for(path: &Path) {
    eventually(Duration::from_secs(20), &path.display().to_string(), || {
        path.exists().then_some(())
    });
}

fn logger_to_socket(socket: &Path, tag: &str, message: &str) {
    let status = Command::new("logger")
        .args(["--socket", socket.to_str().unwrap(), "-t", tag, message])
        .status()
        .unwrap();
    assert!(status.success());
}

fn service(r: &serde_json::Value) -> &serde_json::Value {
    r["resource"]["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == "service.name"))
        .map(|kv| &kv["value"]["stringValue"])
        .unwrap_or(&serde_json::Value::Null)
}

fn attribute<'a>(r: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    r["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map(|kv| &kv["value"])
        .unwrap_or(&serde_json::Value::Null)
}

#[test]
fn rsyslog_recipe() {
    let t = Target::start();
    let socket = t.path("in.sock");
    let conf = t.path("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            "global(workDirectory=\"{}\")\nmodule(load=\"imuxsock\" SysSock.Use=\"off\")\ninput(type=\"imuxsock\" Socket=\"{}\")\n{}",
            t.dir.path().display(),
            socket.display(),
            t.recipe("rsyslog.conf")
        ),
    )
    .unwrap();
    let rsyslogd = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("rsyslogd (tests/peers/syslog/setup.sh)");
    let _peer = spawn(
        Command::new(rsyslogd)
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(t.path("rsyslog.pid")),
        &t.path("rsyslog.log"),
    );
    wait_for(&socket);
    logger_to_socket(&socket, "recipe", "via the rsyslog recipe");
    let r = t.wait_body("via the rsyslog recipe");
    assert_eq!(service(&r), "recipe");
    assert_eq!(attribute(&r, "network.transport")["stringValue"], "tcp");
}

#[test]
fn syslog_ng_recipe() {
    let t = Target::start();
    let socket = t.path("in.sock");
    let conf = t.path("syslog-ng.conf");
    std::fs::write(
        &conf,
        format!(
            "@version: 3.38\nsource s_src {{ unix-dgram(\"{}\"); }};\n{}",
            socket.display(),
            t.recipe("syslog-ng.conf")
        ),
    )
    .unwrap();
    let _peer = spawn(
        Command::new(peers_cache().join("bin/syslog-ng"))
            .args(["-F", "--no-caps", "-f"])
            .arg(&conf)
            .arg(format!(
                "--persist-file={}",
                t.path("sng.persist").display()
            ))
            .arg(format!("--pidfile={}", t.path("sng.pid").display()))
            .arg(format!("--control={}", t.path("sng.ctl").display())),
        &t.path("syslog-ng.log"),
    );
    wait_for(&socket);
    logger_to_socket(&socket, "recipe", "via the syslog-ng recipe");
    let r = t.wait_body("via the syslog-ng recipe");
    assert_eq!(service(&r), "recipe");
}

#[test]
fn logger_recipe() {
    let t = Target::start();
    for line in t
        .recipe("logger.sh")
        .lines()
        .filter(|l| l.starts_with("logger "))
    {
        let status = Command::new("sh").args(["-c", line]).status().unwrap();
        assert!(status.success(), "{line}");
    }
    for (body, transport) in [("deploy finished", "tcp"), ("cache warmed", "udp")] {
        let r = t.wait_body(body);
        assert_eq!(service(&r), "myapp");
        assert_eq!(attribute(&r, "network.transport")["stringValue"], transport);
    }
}

fn filebeat_recipe(name: &str) {
    let filebeat = peers_cache().join("beats/filebeat-v7.17.29/filebeat");
    assert!(
        filebeat.exists(),
        "tests/peers/beats/setup.sh builds {}",
        filebeat.display()
    );
    let t = Target::start();
    std::fs::create_dir_all(t.path("app")).unwrap();
    std::fs::write(
        t.path("app/app.log"),
        format!("first line for {name}\nsecond line for {name}\n"),
    )
    .unwrap();
    let yml = t.path("filebeat.yml");
    std::fs::write(&yml, t.recipe(name)).unwrap();
    let home = t.path("filebeat");
    let _peer = spawn(
        Command::new(&filebeat)
            .args(["-e", "--strict.perms=false", "-c"])
            .arg(&yml)
            .arg("--path.home")
            .arg(&home)
            .arg("--path.data")
            .arg(home.join("data")),
        &t.path("filebeat.log"),
    );
    let r = t.wait_body(&format!("second line for {name}"));
    assert!(
        attribute(&r, "log.file.path")["stringValue"]
            .as_str()
            .unwrap()
            .ends_with("app/app.log")
    );
    t.wait_body(&format!("first line for {name}"));
}

#[test]
fn filebeat_elasticsearch_recipe() {
    filebeat_recipe("filebeat-elasticsearch.yml");
}

#[test]
fn filebeat_logstash_recipe() {
    filebeat_recipe("filebeat-logstash.yml");
}

#[test]
fn opentelemetry_sdk_environment_recipe() {
    let t = Target::start();
    let mut cmd = Command::new(peers_cache().join("otel-py/bin/python"));
    cmd.arg(root().join("tests/peers/otlp/send_env.py"))
        .args(["3", "sdk via env"]);
    for line in t.recipe("otel-sdk.env").lines() {
        if let Some((k, v)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..3 {
        t.wait_body(&format!("sdk via env {i}"));
    }
}

#[test]
fn opentelemetry_collector_recipe() {
    let t = Target::start();
    let receiver = free_port();
    let conf = t.path("otelcol.yaml");
    std::fs::write(
        &conf,
        format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{receiver}\n{}",
            t.recipe("otelcol.yaml")
        ),
    )
    .unwrap();
    let release = std::fs::read_to_string(root().join("tests/peers/otlp/otelcol/go.mod"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("go.opentelemetry.io/collector/otelcol ")
                .map(str::to_string)
        })
        .unwrap();
    let otelcol = peers_cache().join(format!("otelcol-{}/otelcol", release.trim()));
    let _peer = spawn(
        Command::new(&otelcol).arg("--config").arg(&conf),
        &t.path("otelcol.log"),
    );
    eventually(Duration::from_secs(30), "the collector's receiver", || {
        std::net::TcpStream::connect(("127.0.0.1", receiver)).ok()
    });
    let out = Command::new(peers_cache().join("otel-py/bin/python"))
        .arg(root().join("tests/peers/otlp/send.py"))
        .args([
            "--protocol",
            "grpc",
            "--endpoint",
            &format!("http://127.0.0.1:{receiver}"),
            "--count",
            "3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..3 {
        t.wait_body(&format!("record {i}"));
    }
}

/// The README shows each recipe exactly as the file the tests run.
#[test]
fn the_readme_shows_the_tested_recipes() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut shown = 0;
    for (i, _) in readme.match_indices("<!-- snippet: ") {
        let rest = &readme[i + "<!-- snippet: ".len()..];
        let path = &rest[..rest.find(" -->").unwrap()];
        let block = &rest[rest.find("```").unwrap()..];
        let body_start = block.find('\n').unwrap() + 1;
        let body = &block[body_start..body_start + block[body_start..].find("\n```").unwrap()];
        let file = std::fs::read_to_string(root().join(path)).unwrap();
        assert_eq!(
            body,
            file.trim_end_matches('\n'),
            "{path} differs from the README"
        );
        shown += 1;
    }
    let files = std::fs::read_dir(root().join("docs/senders"))
        .unwrap()
        .count();
    assert_eq!(
        shown, files,
        "every recipe in docs/senders is shown in the README"
    );
}
