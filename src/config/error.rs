//! Config errors. Each names the file, the key path (`outputs.loki.batch.max_bytes`) and
//! what was expected, because the reader is an operator looking at a failed start.

use std::path::PathBuf;

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the config file: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: line {line}: {message}")]
    Interpolation {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{file}: invalid TOML: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("{file}: {key}: {message}")]
    Key {
        file: PathBuf,
        key: String,
        message: String,
    },
}

/// An error at a key path relative to some table, before the file is known.
#[derive(Debug)]
pub struct KeyError {
    pub key: String,
    pub message: String,
}

impl KeyError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        KeyError {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Prefixes the key path with the table it came from.
    pub fn within(self, table: &str) -> Self {
        let key = if self.key.is_empty() {
            table.to_string()
        } else {
            format!("{table}.{}", self.key)
        };
        KeyError { key, ..self }
    }

    pub(crate) fn in_file(self, file: &std::path::Path) -> ConfigError {
        ConfigError::Key {
            file: file.to_path_buf(),
            key: self.key,
            message: self.message,
        }
    }
}

/// Deserializes `value` into `T`, reporting the exact key path of any error.
pub fn parse_value<T: serde::de::DeserializeOwned>(value: toml::Value) -> Result<T, KeyError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut key = e.path().to_string();
        if key == "." {
            key.clear();
        }
        let message = e.inner().to_string();
        // serde reports an unknown key at its parent's path; name the key itself.
        if let Some(name) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            key = if key.is_empty() {
                name.to_string()
            } else {
                format!("{key}.{name}")
            };
        }
        KeyError::new(key, message.trim_end().to_string())
    })
}

/// Deserializes a plugin's table (its `type` key already removed).
pub fn parse_table<T: serde::de::DeserializeOwned>(table: toml::Table) -> Result<T, KeyError> {
    parse_value(toml::Value::Table(table))
}
