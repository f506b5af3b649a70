//! The command line: `logferry [--config PATH]` runs, `logferry validate` checks. Exit codes:
//! 0 success, 78 (EX_CONFIG) for a config error, 1 for a runtime failure.

mod runtime;

use crate::config::{Config, ConfigError};
use crate::pipeline::{InputSpec, OutputSpec, Pipeline};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::filter::{LevelFilter, Targets};

/// Built components, ready to start.
type Specs = (Vec<InputSpec>, Vec<OutputSpec>);

/// Exit code of a config error (sysexits.h `EX_CONFIG`).
pub const EXIT_CONFIG: u8 = 78;

const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LOGFERRY_GIT_COMMIT"),
    ")"
);

const EXAMPLES: &str = "\
Examples:
  logferry                                  run the embedded default config (stdin -> stdout)
  logferry --config /etc/logferry/logferry.toml
  logferry validate --config logferry.toml  check a config without starting anything
  logferry reload --config logferry.toml    reload the running logferry (exit 1 if not applied)
  logferry buffer verify --config logferry.toml   check every disk buffer (exit 1 if corrupt)
  logferry buffer inspect /var/lib/logferry/buffers/loki
  printf 'a\\nb\\n' | logferry --config examples/stdin-to-file.toml

Exit codes: 0 success, 78 config error, 1 runtime failure.";

#[derive(Parser, Debug)]
#[command(name = "logferry", version = VERSION, about = "A fast log collection agent: syslog, OTLP, Filebeat and files in; OTLP, Loki and files out.", after_help = EXAMPLES)]
struct Cli {
    /// Config file (TOML). Without it, the embedded default config runs.
    #[arg(
        long,
        short,
        global = true,
        env = "LOGFERRY_CONFIG",
        value_name = "PATH"
    )]
    config: Option<PathBuf>,
    /// Format of logferry's own logs (on stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Log filter: a level (`error`, `warn`, `info`, `debug`, `trace`, `off`) and/or
    /// `target=level` pairs, comma-separated, e.g. `info,logferry::inputs=debug` (also read
    /// from LOGFERRY_LOG).
    #[arg(long, global = true, env = "LOGFERRY_LOG", default_value = "info", value_parser = parse_log_filter)]
    log_level: Targets,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check the config (and build every component) without starting anything.
    Validate,
    /// Ask the running logferry (through its admin endpoint) to reload the config; exits 0
    /// when applied, 1 when refused or failed, 78 when the config is invalid here.
    Reload,
    /// Look into disk buffers without starting anything.
    Buffer {
        #[command(subcommand)]
        action: BufferAction,
    },
}

#[derive(Subcommand, Debug)]
enum BufferAction {
    /// Report segments, entries, records and undelivered records; exit 1 on corruption.
    Verify(BufferTarget),
    /// Report segments, entries, records and undelivered records (corruption is reported,
    /// exit 0).
    Inspect(BufferTarget),
}

#[derive(clap::Args, Debug)]
struct BufferTarget {
    /// A buffer directory (`{data_dir}/buffers/{output}`). Without it, every disk buffer
    /// of the config's outputs.
    dir: Option<PathBuf>,
    /// Only this output's buffer (with the config).
    #[arg(long, value_name = "NAME")]
    output: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.log_level);
    let config = match load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("logferry: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // Every plugin is built (without I/O) before anything starts, for `validate` and run alike.
    let specs = match config.build() {
        Ok(specs) => specs,
        Err(e) => {
            eprintln!("logferry: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match cli.command {
        Some(Command::Validate) => {
            let names = |v: Vec<&str>| v.join(", ");
            println!(
                "{}: OK ({} inputs: {}; {} outputs: {})",
                config.origin.display(),
                config.inputs.len(),
                names(config.inputs.iter().map(|i| i.name.as_str()).collect()),
                config.outputs.len(),
                names(config.outputs.iter().map(|o| o.name.as_str()).collect()),
            );
            ExitCode::SUCCESS
        }
        Some(Command::Buffer { action }) => buffer_command(&config, action),
        Some(Command::Reload) => reload_command(&config),
        None => {
            if cli.config.is_none() {
                tracing::info!("no --config given: running the embedded default config");
            }
            run(config, specs, cli.config.clone()).unwrap_or_else(|e| {
                tracing::error!("{e:#}");
                ExitCode::FAILURE
            })
        }
    }
}

/// `logferry reload`: `POST /reload` on the admin listener, printing the outcome.
fn reload_command(config: &Config) -> ExitCode {
    use std::io::{Read, Write};
    if !config.admin.enabled {
        eprintln!(
            "logferry: {}: admin.enabled is false; send SIGHUP to the process instead",
            config.origin.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let address = config.admin.listen;
    let answer = (|| -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect(address)?;
        // A reload waits for replaced outputs to drain, up to shutdown_timeout.
        stream.set_read_timeout(Some(
            config.shutdown_timeout.0 + std::time::Duration::from_secs(30),
        ))?;
        write!(
            stream,
            "POST /reload HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    })();
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("logferry: no logferry answering on admin.listen {address}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ok = answer.starts_with("HTTP/1.1 200");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    if ok {
        print!("{body}");
        ExitCode::SUCCESS
    } else {
        eprint!("logferry: {body}");
        ExitCode::FAILURE
    }
}

/// `logferry buffer verify|inspect`: reads only, so it is safe beside a running logferry.
fn buffer_command(config: &Config, action: BufferAction) -> ExitCode {
    let (target, verify) = match action {
        BufferAction::Verify(t) => (t, true),
        BufferAction::Inspect(t) => (t, false),
    };
    let dirs: Vec<PathBuf> = match (&target.dir, &target.output) {
        (Some(dir), _) => vec![dir.clone()],
        (None, only) => {
            let chosen: Vec<PathBuf> = config
                .outputs
                .iter()
                .filter(|o| o.buffer.kind == crate::pipeline::BufferKind::Disk)
                .filter(|o| only.as_ref().is_none_or(|n| *n == o.name))
                .map(|o| crate::pipeline::disk_buffer_dir(&o.data_dir, &o.name))
                .collect();
            if chosen.is_empty() {
                eprintln!(
                    "logferry: {}: no output {}has buffer.type = \"disk\"",
                    config.origin.display(),
                    only.as_ref()
                        .map(|n| format!("named \"{n}\" "))
                        .unwrap_or_default()
                );
                return ExitCode::from(EXIT_CONFIG);
            }
            chosen
        }
    };
    let mut code = ExitCode::SUCCESS;
    for dir in dirs {
        if !dir.exists() {
            println!("disk buffer {}: not created yet (empty)", dir.display());
            continue;
        }
        match crate::pipeline::buffer::disk::inspect(&dir) {
            Ok(report) => {
                print!("{}", report.render());
                if verify && !report.is_clean() {
                    code = ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("logferry: disk buffer {}: {e}", dir.display());
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}

/// The `memory_limit` budget of a config, if it sets one.
fn budget(config: &Config) -> Option<Arc<crate::pipeline::MemoryBudget>> {
    config
        .memory_limit
        .map(|limit| Arc::new(crate::pipeline::MemoryBudget::new(limit.0 as usize)))
}

fn load(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
    match path {
        Some(path) => Config::load(path),
        None => Config::embedded_default(),
    }
}

/// `--log-level`: a `Targets` filter (levels by target prefix). Not `EnvFilter`: its
/// span and field matching are rarely wanted here, and its parser compiles regular
/// expressions at every start (code and heap a long-running agent keeps mapped).
fn parse_log_filter(filter: &str) -> Result<Targets, String> {
    // `Targets` reads a bare word as a target to log at every level: a misspelt level
    // (`debgu`) would silence everything else without a word.
    if let Some(word) = filter
        .split(',')
        .map(str::trim)
        .find(|d| !d.is_empty() && !d.contains('=') && d.parse::<LevelFilter>().is_err())
    {
        return Err(format!(
            "`{word}` is not a level (error, warn, info, debug, trace, off); filter a target with target=level, e.g. {word}=debug"
        ));
    }
    filter.parse::<Targets>().map_err(|e| {
        format!("{e}; expected a level (error, warn, info, debug, trace, off) or target=level pairs, e.g. info,logferry=debug")
    })
}

fn init_logging(format: LogFormat, filter: Targets) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Colour only for a person at a terminal: journald, containers and files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // A global filter (not a per-layer one): one layer, and disabled call sites then cost
    // one cached check.
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Human => registry.with(layer).init(),
        LogFormat::Json => registry.with(layer.json()).init(),
    }
}

fn run(config: Config, specs: Specs, path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let runtime = runtime::build(config.threads)?;
    let result = runtime.block_on(run_async(config, specs, path));
    // A blocking read of stdin cannot be cancelled; do not wait for it once drained.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

async fn run_async(
    mut config: Config,
    (inputs, outputs): Specs,
    path: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut signals = crate::shutdown::Signals::install().context("installing signal handlers")?;
    let stop_admin = CancellationToken::new();
    let ready = Arc::new(AtomicBool::new(false));
    let admin_listener = if config.admin.enabled {
        let listener = tokio::net::TcpListener::bind(config.admin.listen)
            .await
            .with_context(|| format!("admin.listen: binding {}", config.admin.listen))?;
        tracing::info!(address = %listener.local_addr()?, "admin endpoint listening (/health, /ready, /metrics, /ledger)");
        Some(listener)
    } else {
        None
    };

    let mut pipeline = Pipeline::start_limited(inputs, outputs, budget(&config))
        .context("starting the pipeline")?;
    let shared_telemetry = Arc::new(std::sync::RwLock::new(pipeline.telemetry()));
    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel::<crate::admin::ReloadRequest>(4);
    let mut files = watched_files(&config);
    let admin = admin_listener.map(|listener| {
        tokio::spawn(crate::admin::serve(
            listener,
            Arc::clone(&shared_telemetry),
            Arc::clone(&ready),
            reload_tx.clone(),
            stop_admin.clone(),
        ))
    });
    ready.store(true, Ordering::Relaxed);
    tracing::info!(
        config = %config.origin.display(),
        inputs = config.inputs.len(),
        outputs = config.outputs.len(),
        version = VERSION,
        "logferry started"
    );

    let mut stopped_by_reload = false;
    loop {
        let signal = tokio::select! {
            _ = pipeline.inputs_finished() => None,
            signal = signals.recv() => Some((signal, None)),
            Some(answer) = reload_rx.recv() => Some(("POST /reload", Some(answer))),
        };
        match signal {
            None => {
                tracing::info!("inputs finished; draining outputs");
                break;
            }
            Some(("SIGHUP" | "POST /reload", answer)) => {
                // Signals that arrive meanwhile are merged into one more reload after it.
                let outcome =
                    apply_reload(&mut pipeline, &mut config, &mut files, path.as_deref()).await;
                *shared_telemetry.write().unwrap_or_else(|e| e.into_inner()) = pipeline.telemetry();
                let fatal = matches!(outcome, Err(Reload::Fatal(_)));
                if let Some(answer) = answer {
                    let _ =
                        answer.send(outcome.map_err(|(Reload::Failed(m) | Reload::Fatal(m))| m));
                }
                if fatal {
                    stopped_by_reload = true;
                    tokio::spawn(async move {
                        let again = signals.recv_stop().await;
                        tracing::warn!(
                            signal = again,
                            "signal while stopping: exiting without draining"
                        );
                        std::process::exit(1);
                    });
                    break;
                }
            }
            Some((signal, _)) => {
                tracing::info!(signal, deadline = %config.shutdown_timeout, "stopping: draining outputs");
                tokio::spawn(async move {
                    let again = signals.recv_stop().await;
                    tracing::warn!(signal = again, "second signal: exiting without draining");
                    std::process::exit(1);
                });
                break;
            }
        }
    }
    ready.store(false, Ordering::Relaxed);
    // Reloads asked for over HTTP from now on are answered at once: logferry is stopping.
    reload_rx.close();
    while let Ok(answer) = reload_rx.try_recv() {
        let _ = answer.send(Err("logferry is stopping; not reloading".into()));
    }
    let failed = finish(pipeline, &config).await;
    stop_admin.cancel();
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    if failed.iter().any(|f| f == UNBALANCED) || stopped_by_reload {
        return Ok(ExitCode::FAILURE);
    }
    if !failed.is_empty() {
        tracing::error!(inputs = ?failed, "stopped after input failures");
        return Ok(ExitCode::FAILURE);
    }
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

/// Marks a pipeline whose ledger did not balance in `finish`'s answer.
const UNBALANCED: &str = "<ledger does not balance>";

/// Drains and stops a pipeline, logs its final counts, and returns the inputs that failed
/// (with [`UNBALANCED`] when its ledger does not balance).
async fn finish(pipeline: Pipeline, config: &Config) -> Vec<String> {
    let telemetry = pipeline.telemetry();
    let mut failed = pipeline.shutdown(config.shutdown_timeout.0).await;
    let ledger = telemetry.ledger();
    for r in &ledger.routes {
        tracing::info!(input = %r.input, output = %r.output, received = ledger.received(&r.input), delivered = r.delivered, rejected = r.rejected, dropped = r.dropped, buffered = r.buffered, "final record count");
    }
    if let Err(e) = ledger.check_balance() {
        tracing::error!("record ledger does not balance: {e}");
        failed.push(UNBALANCED.into());
    }
    failed
}

/// Files a config names in `*_file` keys (certificates, keys, CAs), by component, with
/// their modification time and size: a component whose files changed is restarted by a
/// reload even if its config text did not (a renewed certificate).
type Fingerprints = HashMap<String, Vec<(PathBuf, Option<(std::time::SystemTime, u64)>)>>;

fn watched_files(config: &Config) -> Fingerprints {
    let fingerprint = |debug: String| {
        file_keys(&debug)
            .into_iter()
            .map(|path| {
                let path = PathBuf::from(path);
                let meta = std::fs::metadata(&path)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())));
                (path, meta)
            })
            .collect()
    };
    let inputs = config
        .inputs
        .iter()
        .map(|i| (format!("inputs.{}", i.name), fingerprint(format!("{i:?}"))));
    let outputs = config
        .outputs
        .iter()
        .map(|o| (format!("outputs.{}", o.name), fingerprint(format!("{o:?}"))));
    inputs.chain(outputs).collect()
}

/// The paths of the `*_file` keys in a component's `Debug` text (`cert_file: "…"` or
/// `ca_file: Some("…")`), unescaped. A scan, not a regular expression: this runs at every
/// start and the regex engine's code and tables would stay mapped for nothing.
fn file_keys(debug: &str) -> Vec<String> {
    const KEY_END: &str = "_file: ";
    let mut paths = Vec::new();
    let mut rest = debug;
    while let Some(at) = rest.find(KEY_END) {
        rest = &rest[at + KEY_END.len()..];
        let value = rest.strip_prefix("Some(").unwrap_or(rest);
        let Some(quoted) = value.strip_prefix('"') else {
            continue;
        };
        let mut path = String::new();
        let mut chars = quoted.char_indices();
        let mut closed = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    closed = Some(i);
                    break;
                }
                // `Debug` escapes quotes and backslashes; paths seldom hold anything else.
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        path.push(escaped);
                    }
                }
                c => path.push(c),
            }
        }
        if let Some(end) = closed {
            if !path.is_empty() {
                paths.push(path);
            }
            rest = &quoted[end + 1..];
        }
    }
    paths
}

/// Re-reads the config and applies it: invalid → refused, the running config stays;
/// valid → only the components whose config (or certificate files) changed are replaced.
/// The outcome goes to the log, the metrics and the caller (`POST /reload`).
async fn apply_reload(
    pipeline: &mut Pipeline,
    config: &mut Config,
    files: &mut Fingerprints,
    path: Option<&std::path::Path>,
) -> Result<String, Reload> {
    let counts = pipeline.reload_counts();
    let Some(path) = path else {
        tracing::warn!("reload: running the embedded default config, nothing to reload");
        return Err(Reload::Failed(
            "logferry runs the embedded default config; there is nothing to reload".into(),
        ));
    };
    let built = Config::load(path).and_then(|new| {
        let specs = new.build()?;
        Ok((new, specs))
    });
    let (mut new_config, (inputs, outputs)) = match built {
        Ok(built) => built,
        Err(e) => {
            counts.refused.add(1);
            counts.last_ok.set(0);
            tracing::error!(error = %e, "reload refused: the config is invalid; the running config stays");
            return Err(Reload::Failed(format!(
                "reload refused, the running config stays: {e}"
            )));
        }
    };
    let new_files = watched_files(&new_config);
    let keep = unchanged_between(config, files, &new_config, &new_files);
    if new_config.keep_restart_only_settings(config) {
        tracing::warn!("reload: admin, memory_limit and threads changes need a restart");
    }
    tracing::info!(config = %path.display(), "reload: config valid; replacing what changed");
    let result = pipeline
        .reload(inputs, outputs, &keep, config.shutdown_timeout.0)
        .await;
    let counts = pipeline.reload_counts();
    match result {
        Ok(report) => {
            *config = new_config;
            *files = new_files;
            counts.applied.add(1);
            counts.last_ok.set(1);
            let summary = format!(
                "reloaded: inputs started {:?}, stopped {:?}; outputs started {:?}, stopped {:?}; unchanged components kept running",
                report.inputs_started,
                report.inputs_stopped,
                report.outputs_started,
                report.outputs_stopped
            );
            tracing::info!(
                inputs_started = ?report.inputs_started,
                inputs_stopped = ?report.inputs_stopped,
                outputs_started = ?report.outputs_started,
                outputs_stopped = ?report.outputs_stopped,
                "reloaded"
            );
            Ok(summary)
        }
        Err(crate::pipeline::ReloadError::Refused(e)) => {
            counts.refused.add(1);
            counts.last_ok.set(0);
            tracing::error!(error = %e, "reload refused: an output of the new config cannot start; the running config stays");
            Err(Reload::Failed(format!(
                "reload refused, the running config stays: {e}"
            )))
        }
        Err(crate::pipeline::ReloadError::Failed(e)) => {
            counts.failed.add(1);
            counts.last_ok.set(0);
            tracing::error!(error = %e, "reload failed: a component of the new config could not start; restoring the previous config");
            // What runs now is the new config less what failed; going back to the previous
            // one replaces what differs from it and restarts what failed.
            let back = unchanged_between(&new_config, &new_files, config, files);
            let restored = match config.build() {
                Ok((inputs, outputs)) => pipeline
                    .reload(inputs, outputs, &back, config.shutdown_timeout.0)
                    .await
                    .map_err(anyhow::Error::from),
                Err(built) => Err(built.into()),
            };
            match restored {
                Ok(_) => {
                    tracing::warn!("reload failed; the previous config was restored and runs");
                    Err(Reload::Failed(format!(
                        "reload failed, the previous config was restored: {e}"
                    )))
                }
                Err(again) => {
                    // Whatever the way back hit, part of the new config is what runs now.
                    let again = match again.downcast::<crate::pipeline::ReloadError>() {
                        Ok(
                            crate::pipeline::ReloadError::Refused(e)
                            | crate::pipeline::ReloadError::Failed(e),
                        ) => anyhow::Error::from(e),
                        Err(other) => other,
                    };
                    tracing::error!(error = %again, "the previous config could not be restored either; stopping (what disk buffers hold stays for the next start)");
                    Err(Reload::Fatal(format!(
                        "reload failed ({e}) and the previous config could not be restored ({again:#}); logferry is stopping"
                    )))
                }
            }
        }
    }
}

/// How a reload did not apply.
enum Reload {
    /// Not applied; the running config stays (restored if need be).
    Failed(String),
    /// Neither the new config nor the previous one runs: logferry stops.
    Fatal(String),
}

/// The components of `new` whose config (and certificate files) equal those in `old`.
fn unchanged_between(
    old: &Config,
    old_files: &Fingerprints,
    new: &Config,
    new_files: &Fingerprints,
) -> crate::pipeline::Keep {
    let files = (old_files, new_files);
    crate::pipeline::Keep {
        inputs: same_named("inputs", &old.inputs, &new.inputs, |i| &i.name, files),
        outputs: same_named("outputs", &old.outputs, &new.outputs, |o| &o.name, files),
    }
}

/// Names of the components in `new` equal to the one of the same name in `old`, with the
/// same `*_file` fingerprints (keyed `{kind}.{name}`).
fn same_named<T: PartialEq>(
    kind: &str,
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &String,
    (old_files, new_files): (&Fingerprints, &Fingerprints),
) -> std::collections::HashSet<String> {
    new.iter()
        .filter(|c| {
            let key = format!("{kind}.{}", name(c));
            old.iter().find(|o| name(o) == name(c)) == Some(*c)
                && old_files.get(&key) == new_files.get(&key)
        })
        .map(|c| name(c).clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_finds_plain_optional_and_escaped_paths() {
        let debug = r#"Tls { cert_file: "/etc/a.pem", key_file: Some("/etc/b \"x\".key"), ca_file: None, client_ca_file: Some(""), name: "c_file: z" }"#;
        assert_eq!(
            file_keys(debug),
            vec!["/etc/a.pem".to_string(), "/etc/b \"x\".key".to_string()]
        );
        assert!(file_keys("Settings { listen: [\"tcp://x\"] }").is_empty());
        // An unterminated value (cannot come from `Debug`) is not a path.
        assert!(file_keys(r#"cert_file: "/etc/a"#).is_empty());
    }

    #[test]
    fn log_filter_takes_levels_and_targets_and_explains_a_bad_one() {
        let filter = parse_log_filter("warn,logferry::inputs=debug").unwrap();
        assert!(filter.would_enable("logferry::inputs::syslog", &tracing::Level::DEBUG));
        assert!(!filter.would_enable("logferry::outputs", &tracing::Level::INFO));
        assert!(filter.would_enable("h2", &tracing::Level::WARN));
        assert!(parse_log_filter("off").is_ok());
        let error = parse_log_filter("logferry=loud").unwrap_err();
        assert!(error.contains("expected a level"), "{error}");
        let error = parse_log_filter("info,debgu").unwrap_err();
        assert!(error.contains("`debgu` is not a level"), "{error}");
    }
}
