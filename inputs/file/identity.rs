//! How a file is recognized: device and inode, plus a fingerprint of its first bytes so a
//! reused inode (a new file where a deleted one was) is told apart from the file it replaced.
//! A file shorter than the fingerprint length is fingerprinted over what it has; the
//! fingerprint grows with the file until it reaches its full length.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;

/// Device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
}

impl FileKey {
    pub fn of(meta: &std::fs::Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// A hash of a file's first `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub hash: u64,
    pub len: u64,
}

impl Fingerprint {
    /// Reads up to `max` bytes from the start of `file` (its position is restored).
    pub fn read(file: &mut File, max: u64) -> std::io::Result<Fingerprint> {
        let here = file.stream_position()?;
        file.seek(SeekFrom::Start(0))?;
        let mut buf = Vec::with_capacity(max as usize);
        file.by_ref().take(max).read_to_end(&mut buf)?;
        file.seek(SeekFrom::Start(here))?;
        Ok(Fingerprint::of(&buf))
    }

    /// The fingerprint of a gzip file's decompressed start (its content, whatever its inode).
    pub fn of_gzip(file: &File, max: u64) -> std::io::Result<Fingerprint> {
        let mut head = Vec::with_capacity(max as usize);
        flate2::read::MultiGzDecoder::new(file.try_clone()?)
            .take(max)
            .read_to_end(&mut head)?;
        Ok(Fingerprint::of(&head))
    }

    /// The fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> Fingerprint {
        Fingerprint {
            hash: fnv1a(bytes),
            len: bytes.len() as u64,
        }
    }

    /// Whether `file` still starts with the bytes this fingerprint was taken of.
    pub fn matches(&self, file: &mut File) -> std::io::Result<bool> {
        Ok(Fingerprint::read(file, self.len)? == *self)
    }
}

/// FNV-1a, 64 bits: stable across builds and platforms, which checkpoints need.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_fingerprint_tells_files_apart_and_tolerates_growth() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "first line\n").unwrap();
        let mut f = File::open(&path).unwrap();
        let fp = Fingerprint::read(&mut f, 256).unwrap();
        assert_eq!(fp.len, 11);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"second\n")
            .unwrap();
        assert!(
            fp.matches(&mut File::open(&path).unwrap()).unwrap(),
            "growth keeps it"
        );
        std::fs::write(&path, "other content\n").unwrap();
        assert!(!fp.matches(&mut File::open(&path).unwrap()).unwrap());
        assert_eq!(Fingerprint::of(b"abc").hash, fnv1a(b"abc"));
    }
}
