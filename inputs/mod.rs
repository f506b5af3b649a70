//! The input registry: one line per plugin. Each plugin is a folder that knows only the
//! contract (`record`, `batch`, `ack`, `input`), never the engine or an output.

pub mod beats;
pub mod elasticsearch;
pub mod file;
pub mod otlp;
pub mod stdin;
pub mod syslog;

crate::registry::registry! {
    /// Every input type, by its `type` key.
    pub enum InputPlugin: crate::input::InputConfig => BuiltInput, crate::input::InputBuildContext {
        "beats" => Beats(beats::BeatsConfig),
        "elasticsearch" => Elasticsearch(elasticsearch::ElasticsearchConfig),
        "file" => File(file::FileInputConfig),
        "otlp" => Otlp(otlp::OtlpInputConfig),
        "stdin" => Stdin(stdin::StdinConfig),
        "syslog" => Syslog(syslog::SyslogConfig),
    }
}

use crate::input::BuiltInput;
