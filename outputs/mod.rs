//! The output registry: one line per plugin. Each plugin is a folder that knows only the
//! contract (`record`, `batch`, `output`), never the engine or an input.

pub mod file;
pub mod loki;
pub mod otlp;
pub mod stdout;

crate::registry::registry! {
    /// Every output type, by its `type` key.
    pub enum OutputPlugin: crate::output::OutputConfig => BuiltOutput, crate::output::OutputBuildContext {
        "file" => File(file::FileConfig),
        "loki" => Loki(loki::LokiConfig),
        "otlp" => Otlp(otlp::OtlpOutputConfig),
        "stdout" => Stdout(stdout::StdoutConfig),
    }
}

use crate::pipeline::BuiltOutput;
