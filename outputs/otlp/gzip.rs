//! gzip (RFC 1952) of request bodies with one compressor kept for the output's lifetime.
//! A new `GzEncoder` per request allocated the deflate state (window and hash tables) every
//! time, which the allocator then returned to the system and took back on the next request.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Header of a gzip member: deflate, no flags, no time, "fastest" (XFL 4), unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// A reusable gzip compressor at the fastest level.
pub(super) struct Gzip {
    deflate: Compress,
}

impl Gzip {
    pub(super) fn new() -> Self {
        Gzip {
            // Raw deflate: the gzip header and trailer are ours.
            deflate: Compress::new(Compression::fast(), false),
        }
    }

    /// Appends `input` as one gzip member to `out`.
    pub(super) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        // `reset` also zeroes `total_in`: it counts this input's bytes consumed.
        self.deflate.reset();
        out.extend_from_slice(&HEADER);
        loop {
            // `compress_vec` fills only spare capacity. Deflate at the fastest level shrinks
            // protobuf about 4:1, so a quarter of the input usually takes one call.
            out.reserve((input.len() / 4).max(4096));
            let (read, written) = (self.deflate.total_in(), self.deflate.total_out());
            let status = self
                .deflate
                .compress_vec(&input[read as usize..], out, FlushCompress::Finish)
                .map_err(|e| format!("gzip: {e}"))?;
            if status == Status::StreamEnd {
                break;
            }
            // With room reserved above, no progress means a broken stream: say so rather
            // than loop.
            if self.deflate.total_in() == read && self.deflate.total_out() == written {
                return Err("gzip: the compressor made no progress".into());
            }
        }
        let mut crc = Crc::new();
        crc.update(input);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the input length modulo 2^32 (RFC 1952).
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The content of exactly one gzip member that fills all of `data`.
    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut rest = data;
        let mut out = Vec::new();
        let mut member = flate2::bufread::GzDecoder::new(&mut rest);
        member.read_to_end(&mut out).unwrap();
        assert_eq!(member.header().unwrap().operating_system(), 255);
        drop(member);
        assert!(rest.is_empty(), "{} bytes after the member", rest.len());
        out
    }

    #[test]
    fn one_compressor_makes_valid_members_again_and_again() {
        let mut gzip = Gzip::new();
        let big: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 997).to_le_bytes())
            .collect();
        let noise: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for input in [&b"hello, otlp"[..], &big, &[], &noise, &b"again"[..]] {
            let mut out = Vec::new();
            gzip.compress(input, &mut out).unwrap();
            assert_eq!(gunzip(&out), input, "{} bytes", input.len());
        }
    }

    #[test]
    fn the_member_is_appended_after_what_the_buffer_held() {
        let mut gzip = Gzip::new();
        let mut out = b"prefix".to_vec();
        gzip.compress(b"body", &mut out).unwrap();
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(&out[6..16], &HEADER, "deflate, fastest, no name or time");
        assert_eq!(gunzip(&out[6..]), b"body");
    }
}
