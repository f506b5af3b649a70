//! `${VAR}` and `${VAR:-default}` in the config text, resolved before TOML parsing; `$$` is a
//! literal `$`. Comment lines are left alone so a commented-out example cannot fail a start.

/// A variable that is unset and has no default.
#[derive(Debug, PartialEq, Eq)]
pub struct MissingVar {
    pub line: usize,
    pub message: String,
}

/// Replaces variables in `text` using `lookup`.
pub fn interpolate(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, MissingVar> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(body) = after.strip_prefix('{') {
                let end = body.find('}').ok_or_else(|| MissingVar {
                    line: index + 1,
                    message: "unterminated \"${\": expected \"${NAME}\" or \"${NAME:-default}\""
                        .into(),
                })?;
                let expr = &body[..end];
                let (name, default) = match expr.split_once(":-") {
                    Some((name, default)) => (name, Some(default)),
                    None => (expr, None),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(MissingVar {
                        line: index + 1,
                        message: format!("\"${{{expr}}}\" is not a valid variable reference"),
                    });
                }
                match (lookup(name).filter(|v| !v.is_empty()), default) {
                    (Some(value), _) => out.push_str(&value),
                    (None, Some(default)) => out.push_str(default),
                    (None, None) => {
                        return Err(MissingVar {
                            line: index + 1,
                            message: format!(
                                "environment variable {name} is not set (write \"${{{name}:-default}}\" to give a default)"
                            ),
                        });
                    }
                }
                rest = &body[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "example.org".to_string())
    }

    #[test]
    fn replaces_variables_defaults_and_escapes() {
        let text = "a = \"${HOST}\"\nb = \"${PORT:-514}\"\nc = \"$$HOME $x\"\n# ${NOPE}\n";
        assert_eq!(
            interpolate(text, env).unwrap(),
            "a = \"example.org\"\nb = \"514\"\nc = \"$HOME $x\"\n# ${NOPE}\n"
        );
    }

    #[test]
    fn names_the_missing_variable_and_its_line() {
        let err = interpolate("a = 1\nb = \"${NOPE}\"\n", env).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("NOPE"), "{}", err.message);
        assert!(
            interpolate("x = \"${A\"", env)
                .unwrap_err()
                .message
                .contains("unterminated")
        );
    }
}
