//! The `path` template: `{{ input }}` is the name of the record's input; strftime fields
//! (`%Y-%m-%d`, `%H`) are the UTC time of writing, so a file per day or hour rolls over by
//! itself.

use chrono::format::{Item, StrftimeItems};
use std::path::PathBuf;

/// A parsed `path` template.
#[derive(Clone, Debug, PartialEq)]
pub struct PathTemplate {
    parts: Vec<Part>,
    has_time: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    Input,
}

impl PathTemplate {
    /// Parses a template, naming what is wrong with it.
    pub fn parse(template: &str) -> Result<Self, String> {
        if template.trim().is_empty() {
            return Err("path: expected a file path, found an empty string".into());
        }
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            parts.push(Part::Text(rest[..open].to_string()));
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("path: unterminated \"{{{{\" in \"{template}\""))?;
            match after[..close].trim() {
                "input" => parts.push(Part::Input),
                other => {
                    return Err(format!(
                        "path: unknown template field \"{other}\" in \"{template}\"; expected {{{{ input }}}} or strftime fields like %Y-%m-%d"
                    ));
                }
            }
            rest = &after[close + 2..];
        }
        parts.push(Part::Text(rest.to_string()));
        let mut has_time = false;
        for part in &parts {
            if let Part::Text(text) = part {
                for item in StrftimeItems::new(text) {
                    match item {
                        Item::Error => {
                            return Err(format!(
                                "path: invalid strftime field in \"{template}\" (write %% for a literal %)"
                            ));
                        }
                        Item::Literal(_)
                        | Item::OwnedLiteral(_)
                        | Item::Space(_)
                        | Item::OwnedSpace(_) => {}
                        _ => has_time = true,
                    }
                }
            }
        }
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Ok(PathTemplate { parts, has_time })
    }

    /// True when the path depends on the input name.
    pub fn per_input(&self) -> bool {
        self.parts.contains(&Part::Input)
    }

    /// The path for records of `input` written at `now`.
    pub fn render(&self, input: &str, now: chrono::DateTime<chrono::Utc>) -> PathBuf {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Input => out.push_str(input),
                Part::Text(text) if self.has_time => {
                    use std::fmt::Write;
                    let _ = write!(out, "{}", now.format(text));
                }
                Part::Text(text) => out.push_str(&text.replace("%%", "%")),
            }
        }
        PathBuf::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn renders_input_and_date_parts() {
        let t = PathTemplate::parse("/var/log/{{ input }}/%Y-%m-%d.ndjson").unwrap();
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 29, 3, 4, 5).unwrap();
        assert_eq!(
            t.render("syslog", now),
            PathBuf::from("/var/log/syslog/2026-11-29.ndjson")
        );
        assert!(t.per_input());
        let plain = PathTemplate::parse("/tmp/out.log").unwrap();
        assert_eq!(plain.render("x", now), PathBuf::from("/tmp/out.log"));
        assert!(!plain.per_input());
    }

    #[test]
    fn refuses_bad_templates_with_the_reason() {
        assert!(
            PathTemplate::parse("/tmp/{{ host }}.log")
                .unwrap_err()
                .contains("\"host\"")
        );
        assert!(
            PathTemplate::parse("/tmp/{{ input")
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(PathTemplate::parse("").unwrap_err().contains("empty"));
    }
}
