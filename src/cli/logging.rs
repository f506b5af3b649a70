//! logferry's own logs: the `--log-level` / `LOGFERRY_LOG` filter and the subscriber that
//! writes to stderr.
//!
//! The filter is a `Targets` (levels by target prefix), not an `EnvFilter`: span and field
//! matching are rarely wanted here, and `EnvFilter`'s parser compiles regular expressions
//! at every start (code and heap a long-running agent would keep mapped).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const LEVELS: &str = "error, warn, info, debug, trace, off";

/// Reads a filter: comma-separated items, each a level (the default for every target) or
/// `target=level`. Spaces around items and empty items are ignored; an empty filter is
/// `info`. Anything else is refused with the reason — a misspelt level must not silence
/// the log without a word.
pub(crate) fn parse_filter(filter: &str) -> Result<Targets, String> {
    let mut items = filter
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .peekable();
    if items.peek().is_none() {
        return Ok(Targets::new().with_default(LevelFilter::INFO));
    }
    let mut targets = Targets::new();
    let mut default = None;
    for item in items {
        match item.split_once('=') {
            None => {
                let level = item.parse::<LevelFilter>().map_err(|_| {
                    format!("`{item}` is not a level ({LEVELS}); for a target write `{item}=LEVEL`")
                })?;
                default = Some(level);
            }
            Some((target, level)) => {
                let (target, level) = (target.trim(), level.trim());
                let valid_target = !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'));
                if !valid_target {
                    return Err(format!(
                        "`{item}`: `{target}` is not a target (a module path such as logferry::inputs)"
                    ));
                }
                // `LevelFilter` reads "" as `error`: `target=` is a slip, not a choice.
                let level = Some(level)
                    .filter(|l| !l.is_empty())
                    .and_then(|l| l.parse::<LevelFilter>().ok())
                    .ok_or_else(|| format!("`{item}`: `{level}` is not a level ({LEVELS})"))?;
                targets = targets.with_target(target, level);
            }
        }
    }
    // Only targets: nothing else is logged, as written.
    Ok(match default {
        Some(level) => targets.with_default(level),
        None => targets,
    })
}

/// Whether logs are human-readable text or one JSON object per line.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Human,
    Json,
}

/// Installs the process-wide subscriber: `format` on stderr, filtered by `filter`.
pub(crate) fn init(format: LogFormat, filter: Targets) {
    // Colour only for a person at a terminal: journald, containers and files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // A global filter (not a per-layer one): disabled call sites then cost one cached check.
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Human => registry.with(layer).init(),
        LogFormat::Json => registry.with(layer.json()).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled(filter: &str, target: &str, level: Level) -> bool {
        parse_filter(filter).unwrap().would_enable(target, &level)
    }

    #[test]
    fn levels_and_targets() {
        assert!(enabled("info", "h2", Level::INFO));
        assert!(!enabled("info", "h2", Level::DEBUG));
        assert!(enabled("INFO", "logferry", Level::INFO));
        assert!(!enabled("off", "logferry", Level::ERROR));
        let filter = "warn,logferry::inputs=debug";
        assert!(enabled(filter, "logferry::inputs::syslog", Level::DEBUG));
        assert!(!enabled(filter, "logferry::outputs", Level::INFO));
        assert!(enabled(filter, "h2", Level::WARN));
        // Only a target: everything else is off, as in EnvFilter.
        assert!(enabled("logferry=debug", "logferry::cli", Level::DEBUG));
        assert!(!enabled("logferry=debug", "h2", Level::ERROR));
    }

    #[test]
    fn spaces_and_empty_items_are_ignored() {
        // `info,${EXTRA}` with EXTRA empty, a value with spaces, an empty variable.
        assert!(enabled("info,", "h2", Level::INFO));
        assert!(!enabled("info,", "h2", Level::DEBUG));
        assert!(enabled(
            " warn , logferry = debug ",
            "logferry::cli",
            Level::DEBUG
        ));
        assert!(enabled(" warn , logferry = debug ", "h2", Level::WARN));
        assert!(enabled("", "h2", Level::INFO));
        assert!(!enabled(" , ", "h2", Level::DEBUG));
    }

    #[test]
    fn mistakes_are_refused_with_the_reason() {
        let error = parse_filter("info,debgu").unwrap_err();
        assert!(
            error.contains("`debgu` is not a level") && error.contains("`debgu=LEVEL`"),
            "{error}"
        );
        let error = parse_filter("logferry=loud").unwrap_err();
        assert!(error.contains("`loud` is not a level"), "{error}");
        let error = parse_filter("logferry=").unwrap_err();
        assert!(error.contains("`` is not a level"), "{error}");
        // EnvFilter's span and field syntax is not understood: refused, not ignored.
        let error = parse_filter("logferry[span]=debug").unwrap_err();
        assert!(error.contains("is not a target"), "{error}");
        assert!(parse_filter("=debug").is_err());
    }
}
