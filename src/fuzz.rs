//! Entry points for `cargo fuzz` (the `fuzz/` crate): each takes arbitrary bytes to one of
//! the parsers that meet untrusted input and must never panic on it. Compiled always, so the
//! linters check them and the unit test below runs each over its seeds.

use bytes::{Bytes, BytesMut};

/// Syslog line parsing (RFC 5424 and the RFC 3164 family).
pub fn syslog_parse(data: &[u8]) {
    let opts = crate::inputs::syslog::parse::ParseOptions::new(
        chrono::FixedOffset::east_opt(0).expect("UTC"),
        1_700_000_000_000_000_000,
    );
    let _ = crate::inputs::syslog::parse::parse(Bytes::copy_from_slice(data), &opts);
    // The input's path: names borrowed, not made into strings.
    let _ = crate::inputs::syslog::parse::parse_with(Bytes::copy_from_slice(data), &opts, |n| {
        (n.host().map(str::len), n.app().map(str::len))
    });
}

/// RFC 6587 framing (octet counting and LF/CRLF/NUL), cut at two places as reads would be.
pub fn syslog_framing(data: &[u8]) {
    let mut decoder = crate::net::framing::SyslogFrameDecoder::new(1024);
    let mut buf = BytesMut::new();
    let cut = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    for part in [&data[..cut], &data[cut..]] {
        buf.extend_from_slice(part);
        while decoder.next_frame(&mut buf).is_some() {}
    }
    while decoder.last_frame(&mut buf).is_some() {}
}

/// The Elasticsearch `_bulk` body, with the ECS mapping of each document.
pub fn bulk(data: &[u8]) {
    let mut mapper = crate::record::ecs::EcsMapper::new("fuzz");
    let body = Bytes::copy_from_slice(data);
    let _ = crate::inputs::elasticsearch::bulk::parse(&body, Some("idx"), &mut mapper, 1);
}

/// Lumberjack (Beats) frames, compressed frames' contents included.
pub fn lumberjack(data: &[u8]) {
    use crate::inputs::beats::frame::{self, Frame};
    let mut buf = BytesMut::from(data);
    while let Ok(Some(f)) = frame::next(&mut buf, 1 << 20) {
        if let Frame::Compressed(content) = f {
            let _ = frame::inner(content, 1 << 20);
        }
    }
}

/// OTLP/JSON requests into records.
pub fn otlp_json(data: &[u8]) {
    if let Ok(request) = crate::record::otlp::decode_json(data) {
        let _ = crate::record::otlp::records_from_request(request);
    }
}

/// OTLP protobuf requests into records (the zero-copy decoder), and back.
pub fn otlp_protobuf(data: &[u8]) {
    if let Ok(records) = crate::record::otlp::decode_records(&Bytes::copy_from_slice(data)) {
        let mut out = Vec::new();
        crate::record::otlp::encode_protobuf(records.iter(), &mut out);
    }
}

/// A disk buffer segment's entries, as the reader and the start-up check read them.
pub fn buffer_segment(data: &[u8]) {
    use crate::pipeline::buffer::disk::segment;
    let data = Bytes::copy_from_slice(data);
    let mut at = 0;
    while at < data.len() {
        match segment::next_entry(&data, at) {
            Ok((range, meta)) => {
                let _ = segment::decode_records(&data.slice(range.clone()), &meta);
                at = range.end;
            }
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    /// Each entry point over a few seeds: the fuzz targets build and run.
    #[test]
    fn every_target_takes_its_seeds() {
        let seeds: [&[u8]; 6] = [
            b"",
            b"<34>1 2003-10-11T22:14:15.003Z host app - ID47 [ex@1 a=\"b\"] msg",
            b"12 <13>Oct 11 x\n<14>y\0",
            b"{\"index\":{}}\n{\"message\":\"m\",\"a\":{\"b\":1}}\n",
            b"2W\0\0\0\x012J\0\0\0\x01\0\0\0\x02{}",
            b"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"x\"}}]}]}]}",
        ];
        for seed in seeds {
            super::syslog_parse(seed);
            super::syslog_framing(seed);
            super::bulk(seed);
            super::lumberjack(seed);
            super::otlp_json(seed);
            super::otlp_protobuf(seed);
            super::buffer_segment(seed);
        }
    }
}
