//! The config file: one TOML document with `${VAR}` interpolation, named `[inputs.NAME]` and
//! `[outputs.NAME]` tables each with a `type`, outputs naming the inputs they take. Unknown
//! keys are errors; every error names the file, the key path and what was expected.
//! Everything is checked, and every plugin built (without I/O), before anything starts.

mod error;
mod interpolate;
mod units;

pub use error::{ConfigError, KeyError, parse_table, parse_value};
pub use interpolate::interpolate;
pub use units::{ByteSize, HumanDuration};

use crate::input::InputBuildContext;
use crate::inputs::InputPlugin;
use crate::output::OutputBuildContext;
use crate::outputs::OutputPlugin;
use crate::pipeline::{
    BatchSettings, BufferSettings, DeadLetterSettings, DriverSettings, InputSpec, OutputSpec,
    RetrySettings,
};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The embedded default config, used when no file is given.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

/// The name the embedded default reports in errors and logs.
pub const DEFAULT_ORIGIN: &str = "<embedded default config>";

/// `[admin]`: the loopback HTTP listener for `/health`, `/ready` and `/metrics`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    pub enabled: bool,
    pub listen: SocketAddr,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8686)),
        }
    }
}

/// The top-level keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Global {
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    #[serde(default)]
    admin: AdminSettings,
    #[serde(default = "default_shutdown_timeout")]
    shutdown_timeout: HumanDuration,
    memory_limit: Option<ByteSize>,
    threads: Option<usize>,
    #[serde(default)]
    inputs: toml::Table,
    #[serde(default)]
    outputs: toml::Table,
}

/// Most worker threads `threads` may ask for.
const MAX_THREADS: usize = 1024;

/// Smallest `memory_limit`: room for a few requests of a few MiB.
const MIN_MEMORY_LIMIT: u64 = 4 << 20;

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/logferry")
}

fn default_shutdown_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

/// Keys every output table takes besides its plugin's own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputCommon {
    inputs: Vec<String>,
    #[serde(default)]
    buffer: BufferSettings,
    #[serde(default)]
    batch: BatchSettings,
    #[serde(default)]
    retry: RetrySettings,
    #[serde(default = "default_request_timeout")]
    request_timeout: HumanDuration,
    data_dir: Option<PathBuf>,
    dead_letter: Option<DeadLetterSettings>,
}

const OUTPUT_COMMON_KEYS: &[&str] = &[
    "dead_letter",
    "inputs",
    "buffer",
    "batch",
    "retry",
    "request_timeout",
    "data_dir",
];

fn default_request_timeout() -> HumanDuration {
    DriverSettings::default().request_timeout
}

/// A configured input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputEntry {
    pub name: String,
    pub plugin: InputPlugin,
    pub data_dir: PathBuf,
}

/// A configured output.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputEntry {
    pub name: String,
    pub plugin: OutputPlugin,
    pub inputs: Vec<String>,
    pub buffer: BufferSettings,
    pub driver: DriverSettings,
    /// Whether the config set `batch.max_age` (otherwise the output's own default applies).
    pub max_age_set: bool,
    pub data_dir: PathBuf,
}

/// A whole, checked config.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file it came from (or [`DEFAULT_ORIGIN`]).
    pub origin: PathBuf,
    pub data_dir: PathBuf,
    pub admin: AdminSettings,
    /// How long SIGTERM waits for outputs to drain.
    pub shutdown_timeout: HumanDuration,
    /// One budget for the records held in every memory buffer, if set.
    pub memory_limit: Option<ByteSize>,
    /// Worker threads of the runtime that runs inputs and outputs; `None`: one per core.
    pub threads: Option<usize>,
    pub inputs: Vec<InputEntry>,
    pub outputs: Vec<OutputEntry>,
}

impl Config {
    /// Takes `running`'s settings that only a restart can change (`admin`, `memory_limit`,
    /// `threads`), so this config says what runs; true if this one asked for others.
    pub fn keep_restart_only_settings(&mut self, running: &Config) -> bool {
        let differed = self.admin != running.admin
            || self.memory_limit != running.memory_limit
            || self.threads != running.threads;
        self.admin = running.admin.clone();
        self.memory_limit = running.memory_limit;
        self.threads = running.threads;
        differed
    }

    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Config::from_text(&text, path)
    }

    /// The embedded default config.
    pub fn embedded_default() -> Result<Config, ConfigError> {
        Config::from_text(DEFAULT_CONFIG, Path::new(DEFAULT_ORIGIN))
    }

    /// Parses and checks config text; `origin` names it in errors.
    pub fn from_text(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let text = interpolate(text, |name| std::env::var(name).ok()).map_err(|e| {
            ConfigError::Interpolation {
                file: origin.to_path_buf(),
                line: e.line,
                message: e.message,
            }
        })?;
        let value: toml::Value = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            file: origin.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        parse(value)
            .map_err(|e| e.in_file(origin))
            .map(|mut config| {
                config.origin = origin.to_path_buf();
                config
            })
    }

    /// Builds every plugin (no I/O) into the pipeline's start specs.
    pub fn build(&self) -> Result<(Vec<InputSpec>, Vec<OutputSpec>), ConfigError> {
        let fail = |key: String, message: String| KeyError::new(key, message).in_file(&self.origin);
        let mut inputs = Vec::new();
        for input in &self.inputs {
            let cx = InputBuildContext {
                name: input.name.clone(),
                data_dir: input.data_dir.clone(),
            };
            let built = input
                .plugin
                .build(&cx)
                .map_err(|m| fail(format!("inputs.{}", input.name), m))?;
            inputs.push(InputSpec {
                name: input.name.clone(),
                built,
            });
        }
        let mut outputs = Vec::new();
        for output in &self.outputs {
            let cx = OutputBuildContext {
                name: output.name.clone(),
                data_dir: output.data_dir.clone(),
                adjustments: Default::default(),
            };
            let built = output
                .plugin
                .build(&cx)
                .map_err(|m| fail(format!("outputs.{}", output.name), m))?
                .with_adjustments(cx.adjustments);
            let takes = output
                .inputs
                .iter()
                .map(|name| {
                    self.inputs
                        .iter()
                        .position(|i| &i.name == name)
                        .expect("checked by parse")
                })
                .collect();
            let mut driver = output.driver.clone();
            if !output.max_age_set {
                driver.batch.max_age = HumanDuration(built.default_max_age());
            }
            outputs.push(OutputSpec {
                name: output.name.clone(),
                built,
                takes,
                buffer: output.buffer.clone(),
                driver,
                data_dir: output.data_dir.clone(),
            });
        }
        Ok((inputs, outputs))
    }
}

fn parse(value: toml::Value) -> Result<Config, KeyError> {
    let global: Global = parse_value(value)?;
    let mut inputs = Vec::new();
    for (name, value) in global.inputs {
        let key = format!("inputs.{name}");
        let mut table = component_table(&key, &name, value)?;
        let kind = take_type(&key, &mut table, InputPlugin::TYPES)?;
        let data_dir = match table.remove("data_dir") {
            Some(v) => {
                parse_value::<PathBuf>(v).map_err(|e| e.within(&format!("{key}.data_dir")))?
            }
            None => global.data_dir.clone(),
        };
        let plugin = InputPlugin::parse(&kind, table)
            .map_err(|e| e.within(&key))?
            .ok_or_else(|| unknown_type(&key, &kind, InputPlugin::TYPES))?;
        inputs.push(InputEntry {
            name,
            plugin,
            data_dir,
        });
    }

    let mut outputs = Vec::new();
    for (name, value) in global.outputs {
        let key = format!("outputs.{name}");
        let mut table = component_table(&key, &name, value)?;
        let kind = take_type(&key, &mut table, OutputPlugin::TYPES)?;
        let mut common = toml::Table::new();
        for k in OUTPUT_COMMON_KEYS {
            if let Some(v) = table.remove(*k) {
                common.insert(k.to_string(), v);
            }
        }
        let max_age_set = common.get("batch").and_then(|b| b.get("max_age")).is_some();
        let common: OutputCommon = parse_table(common).map_err(|e| e.within(&key))?;
        let plugin = OutputPlugin::parse(&kind, table)
            .map_err(|e| e.within(&key))?
            .ok_or_else(|| unknown_type(&key, &kind, OutputPlugin::TYPES))?;
        if common.inputs.is_empty() {
            return Err(KeyError::new(
                format!("{key}.inputs"),
                "expected at least one input name",
            ));
        }
        for input in &common.inputs {
            if !inputs.iter().any(|i: &InputEntry| &i.name == input) {
                let known: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
                return Err(KeyError::new(
                    format!("{key}.inputs"),
                    format!(
                        "unknown input \"{input}\"; the inputs defined are: {}",
                        if known.is_empty() {
                            "(none)".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        outputs.push(OutputEntry {
            name,
            plugin,
            inputs: common.inputs,
            buffer: common.buffer,
            driver: DriverSettings {
                batch: common.batch,
                retry: common.retry,
                request_timeout: common.request_timeout,
                dead_letter: common.dead_letter,
            },
            max_age_set,
            data_dir: common.data_dir.unwrap_or_else(|| global.data_dir.clone()),
        });
    }

    if let Some(limit) = global.memory_limit
        && limit.0 < MIN_MEMORY_LIMIT
    {
        return Err(KeyError::new(
            "memory_limit",
            format!(
                "expected at least {} (got {limit})",
                ByteSize(MIN_MEMORY_LIMIT)
            ),
        ));
    }
    if let Some(n) = global.threads
        && !(1..=MAX_THREADS).contains(&n)
    {
        return Err(KeyError::new(
            "threads",
            format!("expected a number of worker threads from 1 to {MAX_THREADS} (got {n})"),
        ));
    }
    if inputs.is_empty() {
        return Err(KeyError::new(
            "inputs",
            "expected at least one [inputs.NAME] table",
        ));
    }
    if outputs.is_empty() {
        return Err(KeyError::new(
            "outputs",
            "expected at least one [outputs.NAME] table",
        ));
    }
    for input in &inputs {
        if !outputs.iter().any(|o| o.inputs.contains(&input.name)) {
            return Err(KeyError::new(
                format!("inputs.{}", input.name),
                format!(
                    "no output takes this input; add \"{}\" to the `inputs` list of an output",
                    input.name
                ),
            ));
        }
    }
    Ok(Config {
        origin: PathBuf::new(),
        data_dir: global.data_dir,
        admin: global.admin,
        shutdown_timeout: global.shutdown_timeout,
        memory_limit: global.memory_limit,
        threads: global.threads,
        inputs,
        outputs,
    })
}

fn component_table(key: &str, name: &str, value: toml::Value) -> Result<toml::Table, KeyError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(KeyError::new(
            key,
            "expected a name of letters, digits, '_' and '-' (it is used in metric labels and paths)",
        ));
    }
    match value {
        toml::Value::Table(table) => Ok(table),
        other => Err(KeyError::new(
            key,
            format!("expected a table, found a {}", other.type_str()),
        )),
    }
}

fn take_type(key: &str, table: &mut toml::Table, known: &[&str]) -> Result<String, KeyError> {
    match table.remove("type") {
        Some(toml::Value::String(kind)) => Ok(kind),
        Some(other) => Err(KeyError::new(
            format!("{key}.type"),
            format!(
                "expected a string, one of: {}; found a {}",
                known.join(", "),
                other.type_str()
            ),
        )),
        None => Err(KeyError::new(
            format!("{key}.type"),
            format!("missing; expected one of: {}", known.join(", ")),
        )),
    }
}

fn unknown_type(key: &str, kind: &str, known: &[&str]) -> KeyError {
    KeyError::new(
        format!("{key}.type"),
        format!(
            "unknown type \"{kind}\"; expected one of: {}",
            known.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_age(extra: &str) -> std::time::Duration {
        let text = format!(
            "[inputs.in]\ntype = \"stdin\"\n[outputs.out]\ntype = \"file\"\ninputs = [\"in\"]\npath = \"/tmp/x\"\n{extra}"
        );
        let config = Config::from_text(&text, Path::new("test.toml")).unwrap();
        let (_, outputs) = config.build().unwrap();
        outputs[0].driver.batch.max_age.0
    }

    /// A minimal config with `global` (top-level keys, tables) before its input and output.
    fn with_global(global: &str) -> String {
        format!(
            "{global}\n[inputs.in]\ntype = \"stdin\"\n[outputs.out]\ntype = \"stdout\"\ninputs = [\"in\"]\n"
        )
    }

    fn threads(line: &str) -> Result<Option<usize>, ConfigError> {
        Config::from_text(&with_global(line), Path::new("test.toml")).map(|c| c.threads)
    }

    #[test]
    fn threads_is_a_worker_count_from_1_to_1024() {
        assert_eq!(threads("").unwrap(), None, "unset: one per core");
        assert_eq!(threads("threads = 1").unwrap(), Some(1));
        assert_eq!(threads("threads = 1024").unwrap(), Some(1024));
        for bad in ["threads = 0", "threads = 1025"] {
            let error = threads(bad).unwrap_err().to_string();
            assert!(
                error.contains("threads") && error.contains("from 1 to 1024"),
                "{bad}: {error}"
            );
        }
        let error = threads("threads = \"two\"").unwrap_err().to_string();
        assert!(error.contains("threads"), "{error}");
    }

    #[test]
    fn a_reload_keeps_the_running_restart_only_settings() {
        let text = with_global;
        let running = Config::from_text(&text("threads = 2"), Path::new("a.toml")).unwrap();
        let mut same = Config::from_text(&text("threads = 2"), Path::new("b.toml")).unwrap();
        assert!(!same.keep_restart_only_settings(&running));
        for extra in [
            "threads = 4",
            "threads = 2\nmemory_limit = \"64MiB\"",
            "threads = 2\n[admin]\nenabled = false",
        ] {
            let mut changed = Config::from_text(&text(extra), Path::new("c.toml")).unwrap();
            assert!(changed.keep_restart_only_settings(&running), "{extra}");
            assert_eq!(
                (changed.threads, changed.memory_limit, &changed.admin),
                (Some(2), None, &running.admin),
                "{extra}"
            );
        }
        let mut changed = Config::from_text(&text("threads = 4"), Path::new("c.toml")).unwrap();
        changed.keep_restart_only_settings(&running);
        // Asking again for what runs is no change.
        let mut back = Config::from_text(&text("threads = 2"), Path::new("d.toml")).unwrap();
        assert!(!back.keep_restart_only_settings(&changed));
    }

    #[test]
    fn an_output_supplies_its_max_age_unless_the_config_sets_one() {
        assert_eq!(
            max_age(""),
            std::time::Duration::ZERO,
            "file output writes as soon as free"
        );
        assert_eq!(
            max_age("batch = { max_age = \"3s\" }"),
            std::time::Duration::from_secs(3)
        );
    }
}
