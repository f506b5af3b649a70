//! RFC 5424 STRUCTURED-DATA (§6.3): `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`, repeated
//! with no space between elements, read into the value of `syslog.structured_data`: a map
//! SD-ID → map PARAM-NAME → string, in wire order.
//!
//! In PARAM-VALUE, `\"`, `\\` and `\]` stand for `"`, `\` and `]`; a backslash before any
//! other character is kept with it (`\n` stays two characters). Values without escapes
//! are slices of the message. Lenient where nothing is ambiguous: spaces after `=`, several
//! spaces between parameters, a space before `]`, and an unescaped `]` inside the quotes.
//! Strict where a sender is broken: an unquoted value, a repeated SD-ID, an element that
//! never closes.

use super::Line;
use crate::record::{AnyValue, Attributes, Str};
use bytes::Bytes;

/// Why STRUCTURED-DATA was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdError {
    #[error("an element is not closed by `]`")]
    Unterminated,
    #[error("an SD-ID is not 1-32 printable ASCII characters other than `=`, `]`, `\"`, space")]
    BadId,
    #[error("a PARAM-NAME is not 1-32 printable ASCII characters other than `=`, `]`, `\"`, space")]
    BadName,
    #[error("a PARAM-NAME is not followed by `=`")]
    NoEquals,
    #[error("a PARAM-VALUE is not in double quotes")]
    Unquoted,
    #[error("a parameter is not followed by a space or `]`")]
    NoSpace,
    #[error("an SD-ID appears twice")]
    DuplicateId,
}

thread_local! {
    /// Where the parameters of the element being read are collected (see [`parse`]).
    static PARAMS: std::cell::RefCell<Attributes> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads the elements starting at `start` (which holds `[`); returns them and the index
/// just past the last `]`.
pub(super) fn parse(line: &Line, start: usize) -> Result<(Attributes, usize), SdError> {
    let b = line.bytes();
    let mut i = start;
    // Sized for the common case (one element of a few parameters): no regrowth.
    let mut elements: Attributes = Vec::with_capacity(1);
    while b.get(i) == Some(&b'[') {
        i += 1;
        let id_end = name(b, i, SdError::BadId)?;
        if elements
            .iter()
            .any(|(id, _)| id.as_bytes() == &b[i..id_end])
        {
            return Err(SdError::DuplicateId);
        }
        let id = line.slice(i..id_end);
        i = id_end;
        // Collected in a per-thread scratch vector, then moved into one of exactly their
        // number: a record waiting in a buffer carries no spare capacity.
        let params = PARAMS.with_borrow_mut(|scratch| {
            scratch.clear();
            let read = params(line, &mut i, scratch);
            let exact = read.map(|()| {
                // (`mem::take` would hand over the scratch's spare capacity too.)
                let mut exact = Vec::with_capacity(scratch.len());
                exact.append(scratch);
                exact
            });
            scratch.clear();
            // One message of thousands of parameters must not keep this thread's scratch
            // that big for good.
            scratch.shrink_to(64);
            exact
        })?;
        elements.push((id, AnyValue::Map(params)));
    }
    Ok((elements, i))
}

/// Reads the parameters of one element into `out`, from `*i` to just past its `]`.
fn params(line: &Line, i: &mut usize, out: &mut Attributes) -> Result<(), SdError> {
    let b = line.bytes();
    loop {
        match b.get(*i) {
            Some(b']') => {
                *i += 1;
                return Ok(());
            }
            Some(b' ') => {
                while b.get(*i) == Some(&b' ') {
                    *i += 1;
                }
                if b.get(*i) == Some(&b']') {
                    continue;
                }
            }
            None => return Err(SdError::Unterminated),
            Some(_) if out.is_empty() => return Err(SdError::BadId),
            Some(_) => return Err(SdError::NoSpace),
        }
        let name_end = name(b, *i, SdError::BadName)?;
        let param = line.slice(*i..name_end);
        *i = name_end;
        match b.get(*i) {
            Some(b'=') => *i += 1,
            None => return Err(SdError::Unterminated),
            Some(_) => return Err(SdError::NoEquals),
        }
        while b.get(*i) == Some(&b' ') {
            *i += 1;
        }
        match b.get(*i) {
            Some(b'"') => *i += 1,
            None => return Err(SdError::Unterminated),
            Some(_) => return Err(SdError::Unquoted),
        }
        let (value, end) = value(line, *i)?;
        out.push((param, AnyValue::String(value)));
        *i = end;
    }
}

/// The end of an SD-NAME (1–32 PRINTUSASCII except `=`, SP, `]`, `"`) starting at `start`.
fn name(b: &[u8], start: usize, error: SdError) -> Result<usize, SdError> {
    let len = b[start.min(b.len())..]
        .iter()
        .take_while(|&&c| (33..=126).contains(&c) && !matches!(c, b'=' | b']' | b'"'))
        .count();
    if (1..=32).contains(&len) {
        Ok(start + len)
    } else if start + len >= b.len() {
        Err(SdError::Unterminated)
    } else {
        Err(error)
    }
}

/// A PARAM-VALUE starting just after its opening quote; returns it unescaped and the index
/// just past its closing quote.
fn value(line: &Line, start: usize) -> Result<(Str, usize), SdError> {
    let b = line.bytes();
    let mut i = start;
    let mut escaped = false;
    loop {
        match b.get(i) {
            None => return Err(SdError::Unterminated),
            Some(b'"') => break,
            Some(b'\\') => {
                escaped = true;
                i += 2;
            }
            Some(_) => i += 1,
        }
    }
    let value = if escaped {
        unescape(&b[start..i])
    } else {
        line.slice(start..i)
    };
    Ok((value, i + 1))
}

fn unescape(raw: &[u8]) -> Str {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied().peekable();
    while let Some(c) = bytes.next() {
        match (c, bytes.peek()) {
            (b'\\', Some(&next @ (b'"' | b'\\' | b']'))) => {
                out.push(next);
                bytes.next();
            }
            _ => out.push(c),
        }
    }
    Str::from_utf8_lossy(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Plain = Vec<(String, Vec<(String, String)>)>;

    fn sd(s: &str) -> Result<(Plain, usize), SdError> {
        let line = Line::new(Bytes::copy_from_slice(s.as_bytes()));
        let (elements, end) = parse(&line, 0)?;
        let plain = elements
            .into_iter()
            .map(|(id, params)| {
                let AnyValue::Map(params) = params else {
                    panic!("not a map")
                };
                let params = params
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.as_str().unwrap().to_string()))
                    .collect();
                (id.to_string(), params)
            })
            .collect();
        Ok((plain, end))
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_elements_in_order_and_stops_after_the_last() {
        let (got, end) = sd(r#"[a@1 k="v"][b@1 x="1" y="2"][c] msg"#).unwrap();
        assert_eq!(
            got,
            vec![
                ("a@1".into(), kv(&[("k", "v")])),
                ("b@1".into(), kv(&[("x", "1"), ("y", "2")])),
                ("c".into(), vec![]),
            ]
        );
        assert_eq!(end, 31);
    }

    #[test]
    fn unescapes_only_what_rfc5424_escapes() {
        let (got, _) =
            sd(r#"[e@9 q="say \"hi\"" p="C:\\tmp" r="a\]b" s="a\nb" t="\\\\" u=""]"#).unwrap();
        let want = kv(&[
            ("q", r#"say "hi""#),
            ("p", r"C:\tmp"),
            ("r", "a]b"),
            ("s", r"a\nb"),
            ("t", r"\\"),
            ("u", ""),
        ]);
        assert_eq!(got, vec![("e@9".into(), want)]);
    }

    #[test]
    fn tolerates_loose_spacing_and_unescaped_brackets_in_values() {
        let (got, _) = sd(r#"[a@1  k= "v]w" ]"#).unwrap();
        assert_eq!(got, vec![("a@1".into(), kv(&[("k", "v]w")]))]);
    }

    #[test]
    fn values_without_escapes_share_the_message_buffer() {
        let input = Bytes::from_static(br#"[a@1 k="value"]"#);
        let line = Line::new(input.clone());
        let (elements, _) = parse(&line, 0).unwrap();
        let AnyValue::Map(params) = &elements[0].1 else {
            panic!()
        };
        let AnyValue::String(v) = &params[0].1 else {
            panic!()
        };
        assert_eq!(v.as_bytes().as_ptr(), input[8..].as_ptr());
    }

    #[test]
    fn refuses_broken_data() {
        let long = format!("[{}]", "x".repeat(33));
        let cases = [
            (r#"[a@1 b=c]"#, SdError::Unquoted),
            (r#"[a@1 b="c"][a@1 d="e"]"#, SdError::DuplicateId),
            (r#"[a@1 b="c""#, SdError::Unterminated),
            (r#"[a@1 b="c\"]"#, SdError::Unterminated),
            (r#"[a@1 b="c""#, SdError::Unterminated),
            (r#"[a@1"#, SdError::Unterminated),
            (r#"[]"#, SdError::BadId),
            (r#"[a@1 ="c"]"#, SdError::BadName),
            (r#"[a@1 b]"#, SdError::NoEquals),
            (r#"[a@1 b="c"d="e"]"#, SdError::NoSpace),
            (r#"[a"b"]"#, SdError::BadId),
            (long.as_str(), SdError::BadId),
        ];
        for (input, want) in cases {
            assert_eq!(sd(input).map(|_| ()), Err(want), "{input}");
        }
    }
}
