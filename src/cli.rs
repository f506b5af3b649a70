//! The command line: `logferry [--config PATH]` runs, `logferry validate` checks. Exit codes:
//! 0 success, 78 (EX_CONFIG) for a config error, 1 for a runtime failure.

mod logging;
mod reload;
mod runtime;

use crate::config::{Config, ConfigError};
use crate::pipeline::{InputSpec, OutputSpec, Pipeline};
use anyhow::Context;
use clap::{Parser, Subcommand};
use logging::LogFormat;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

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
    #[arg(long, global = true, env = "LOGFERRY_LOG", default_value = "info")]
    log_level: String,
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

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A bad filter is a configuration error (78): a service manager should not restart it.
    match logging::parse_filter(&cli.log_level) {
        Ok(filter) => logging::init(cli.log_format, filter),
        Err(e) => {
            eprintln!(
                "logferry: --log-level / LOGFERRY_LOG {:?}: {e}",
                cli.log_level
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    }
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
    let mut files = reload::watched_files(&config);
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
                    reload::apply(&mut pipeline, &mut config, &mut files, path.as_deref()).await;
                *shared_telemetry.write().unwrap_or_else(|e| e.into_inner()) = pipeline.telemetry();
                let fatal = matches!(outcome, Err(reload::Reload::Fatal(_)));
                if let Some(answer) = answer {
                    let _ = answer.send(
                        outcome.map_err(|(reload::Reload::Failed(m) | reload::Reload::Fatal(m))| m),
                    );
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
