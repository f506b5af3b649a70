//! `Str`: an immutable UTF-8 string backed by [`Bytes`], so inputs can slice a received
//! buffer into record fields without copying and clones are reference-count bumps.

use bytes::Bytes;
use std::fmt;
use std::ops::Deref;

/// Immutable UTF-8 text sharing its storage with the buffer it was sliced from.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(Bytes);

impl Str {
    /// An empty string (no allocation).
    pub const fn new() -> Self {
        Str(Bytes::new())
    }

    /// A string from a `'static` literal (no allocation).
    pub const fn from_static(s: &'static str) -> Self {
        Str(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps `bytes` if they are valid UTF-8, giving them back otherwise.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, Bytes> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(Str(bytes)),
            Err(_) => Err(bytes),
        }
    }

    /// Wraps `bytes`, replacing invalid UTF-8 sequences with U+FFFD (copies only then).
    pub fn from_utf8_lossy(bytes: Bytes) -> Self {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Str(bytes),
            Err(_) => Str(Bytes::from(String::from_utf8_lossy(&bytes).into_owned())),
        }
    }

    /// `s` as a `Str` sharing `owner`'s storage when `s` lies inside it (text a parser
    /// borrowed from the buffer), else a copy.
    pub fn borrowed_from(owner: &Bytes, s: &str) -> Str {
        let (start, end) = (
            owner.as_ptr() as usize,
            owner.as_ptr() as usize + owner.len(),
        );
        let at = s.as_ptr() as usize;
        if s.is_empty() {
            return Str::new();
        }
        if at >= start && at + s.len() <= end {
            Str(owner.slice_ref(s.as_bytes()))
        } else {
            Str(Bytes::copy_from_slice(s.as_bytes()))
        }
    }

    /// The text from byte `from` on, reusing this string's storage without touching its
    /// reference count; `None` unless `from` is a character boundary.
    pub fn into_tail(self, from: usize) -> Option<Str> {
        if !self.as_str().is_char_boundary(from) {
            return None;
        }
        let mut bytes = self.0;
        bytes::Buf::advance(&mut bytes, from);
        Some(Str(bytes))
    }

    /// A sub-string sharing this one's storage, without re-validating it; `None` unless
    /// both ends fall on character boundaries.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Option<Str> {
        let s = self.as_str();
        (range.start <= range.end
            && range.end <= s.len()
            && s.is_char_boundary(range.start)
            && s.is_char_boundary(range.end))
        .then(|| Str(self.0.slice(range)))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks or guarantees UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes (cheap clone).
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Str {
    fn from(s: &'static str) -> Self {
        Str::from_static(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str(Bytes::from(s))
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_storage_and_reject_bad_utf8() {
        let buf = Bytes::from_static(b"hello world");
        let s = Str::from_utf8(buf.slice(6..)).unwrap();
        assert_eq!(s, "world");
        assert_eq!(s.as_bytes().as_ptr(), buf[6..].as_ptr());
        assert!(Str::from_utf8(Bytes::from_static(b"\xff")).is_err());
        assert_eq!(
            Str::from_utf8_lossy(Bytes::from_static(b"a\xffb")),
            "a\u{fffd}b"
        );
        let s = Str::from("żółw");
        assert_eq!(s.slice(0..2).unwrap(), "ż");
        assert_eq!(s.slice(0..1), None, "not a character boundary");
        assert_eq!(s.slice(2..99), None);
    }
}
