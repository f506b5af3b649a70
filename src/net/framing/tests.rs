use super::*;

/// Feeds `chunks` in order, then ends the stream; returns every frame.
fn decode_chunks(chunks: &[&[u8]], max: usize) -> Vec<Frame> {
    let mut decoder = SyslogFrameDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(frame) = decoder.next_frame(&mut buf) {
            frames.push(frame);
        }
    }
    while let Some(frame) = decoder.last_frame(&mut buf) {
        frames.push(frame);
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    frames
}

/// Asserts `stream` gives `want` whole, split at every byte position, and byte by byte.
#[track_caller]
fn assert_frames_at_every_split(stream: &[u8], max: usize, want: &[(&[u8], bool)]) {
    let want: Vec<Frame> = want
        .iter()
        .map(|(data, truncated)| Frame {
            data: Bytes::copy_from_slice(data),
            truncated: *truncated,
        })
        .collect();
    assert_eq!(decode_chunks(&[stream], max), want, "whole");
    for at in 0..=stream.len() {
        let (a, b) = stream.split_at(at);
        assert_eq!(decode_chunks(&[a, b], max), want, "split at {at}");
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(decode_chunks(&bytes, max), want, "byte by byte");
}

#[test]
fn mixed_framings_give_the_same_frames_however_the_stream_is_split() {
    let stream: &[u8] = b"17 <13>1 - - - - - x15 <13>1 - - - - -\
        <13>Mar  5 07:08:09 h t: a\n\n\r\n<13>Mar  5 07:08:09 h t: b\r\n<14>py\0\
        12 line\nwith LF\n2024-03-05 no pri\n<13>tail without LF";
    assert_frames_at_every_split(
        stream,
        DEFAULT_MAX_MESSAGE_BYTES,
        &[
            (b"<13>1 - - - - - x", false),
            (b"<13>1 - - - - -", false),
            (b"<13>Mar  5 07:08:09 h t: a", false),
            (b"<13>Mar  5 07:08:09 h t: b", false),
            (b"<14>py", false),
            (b"line\nwith LF", false),
            (b"2024-03-05 no pri", false),
            (b"<13>tail without LF", false),
        ],
    );
}

#[test]
fn empty_lines_and_stray_trailers_are_skipped() {
    assert_frames_at_every_split(b"\n\n\r\n\0<13>a\n\n\r\n", 100, &[(b"<13>a", false)]);
    assert!(decode_chunks(&[b"\n\r\n\0"], 100).is_empty());
}

#[test]
fn long_messages_are_cut_at_the_limit_and_the_stream_stays_in_step() {
    let mut stream = b"25 ".to_vec();
    stream.extend_from_slice(&[b'c'; 25]);
    stream.extend_from_slice(b"5 hello");
    stream.extend_from_slice(&[b'l'; 25]);
    stream.extend_from_slice(b"\nexactly10!\nok");
    assert_frames_at_every_split(
        &stream,
        10,
        &[
            (b"cccccccccc", true),
            (b"hello", false),
            (b"llllllllll", true),
            (b"exactly10!", false),
            (b"ok", false),
        ],
    );
}

#[test]
fn an_unterminated_long_line_is_cut_before_its_end_arrives() {
    let mut decoder = SyslogFrameDecoder::new(4);
    let mut buf = BytesMut::from(&b"abcdefgh"[..]);
    let cut = decoder.next_frame(&mut buf).unwrap();
    assert_eq!(cut.data, Bytes::from_static(b"abcd"));
    assert!(cut.truncated);
    assert_eq!(decoder.next_frame(&mut buf), None);
    assert!(buf.is_empty(), "the rest is skipped, not held");
    buf.extend_from_slice(b"ij\nnext\n");
    let next = decoder.next_frame(&mut buf).unwrap();
    assert_eq!((next.data.as_ref(), next.truncated), (&b"next"[..], false));
}

#[test]
fn a_bogus_length_prefix_is_read_as_a_line_and_allocates_nothing_big() {
    assert_frames_at_every_split(
        b"99999999999 x\n<13>next\n99999999999999999999999999 y\n",
        DEFAULT_MAX_MESSAGE_BYTES,
        &[
            (b"99999999999 x", false),
            (b"<13>next", false),
            (b"99999999999999999999999999 y", false),
        ],
    );
    // Believable but over the limit: the reservation stays at the limit.
    let mut decoder = SyslogFrameDecoder::new(1000);
    let mut buf = BytesMut::from(&b"15000 abc"[..]);
    assert_eq!(decoder.next_frame(&mut buf), None);
    assert!(buf.capacity() < 4096, "capacity {}", buf.capacity());
    // Digits past u64 do not overflow, even with no practical limit.
    let mut decoder = SyslogFrameDecoder::new(usize::MAX);
    let mut buf = BytesMut::from(&b"99999999999999999999999 abc\n"[..]);
    let frame = decoder.next_frame(&mut buf).unwrap();
    assert_eq!(
        frame.data,
        Bytes::from_static(b"99999999999999999999999 abc")
    );
}

#[test]
fn end_of_stream_yields_the_unterminated_rest() {
    let frame = |data: &'static [u8], truncated| Frame {
        data: Bytes::from_static(data),
        truncated,
    };
    assert_eq!(
        decode_chunks(&[b"<13>x\r"], 100),
        vec![frame(b"<13>x", false)]
    );
    assert_eq!(decode_chunks(&[b"12"], 100), vec![frame(b"12", false)]);
    // Shorter than declared: what came is kept, flagged.
    assert_eq!(decode_chunks(&[b"5 ab"], 100), vec![frame(b"ab", true)]);
    assert_eq!(decode_chunks(&[b"5 "], 100), vec![]);
    // In the middle of skipping an over-long message: nothing more.
    assert_eq!(
        decode_chunks(&[b"20 abcdefgh"], 4),
        vec![frame(b"abcd", true)]
    );
}
