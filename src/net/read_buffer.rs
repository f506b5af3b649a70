//! Read buffers of stream inputs. Records slice their fields out of the buffer without
//! copying, so every chunk stays allocated until the last record cut from it is freed, and
//! each read after that fills a new chunk (or the old one, once nothing holds it).

use bytes::BytesMut;

/// Bytes of one read chunk. 64 KiB is the largest block mimalloc serves from its shared
/// pages: a larger one gets pages of its own, which go back to the system only a while after
/// the block is freed. With chunks of 64 KiB plus a message's tail, one per read, a w1 run
/// (a million messages in a second) committed 32 MiB; with 64 KiB chunks, 26 MiB.
pub const READ_CHUNK: usize = 64 * 1024;

/// Less free room than this and the next read gets a fresh chunk.
const MIN_ROOM: usize = 8 * 1024;

/// An empty read buffer.
pub fn new() -> BytesMut {
    BytesMut::with_capacity(READ_CHUNK)
}

/// Makes room for the next read: with less than 8 KiB free, the unparsed tail moves to the
/// start of a chunk of [`READ_CHUNK`] bytes: the current chunk if nothing else holds it and
/// the move is cheap, else a new one of exactly that size (`BytesMut::reserve` would double
/// a chunk it cannot reclaim). A tail longer than a chunk (one long message being read)
/// grows by doubling instead, so reading it copies it a logarithmic number of times.
pub fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() >= MIN_ROOM {
        return;
    }
    if buf.len() > READ_CHUNK - MIN_ROOM {
        buf.reserve(MIN_ROOM);
        return;
    }
    if buf.try_reclaim(READ_CHUNK - buf.len()) {
        return;
    }
    let mut chunk = BytesMut::with_capacity(READ_CHUNK);
    chunk.extend_from_slice(buf);
    *buf = chunk;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` bytes of a pattern that shows a byte moved out of place.
    fn filled(n: usize) -> BytesMut {
        let mut buf = new();
        buf.extend((0..n).map(|i| (i % 251) as u8));
        buf
    }

    fn pattern_from(start: usize, buf: &[u8]) -> bool {
        buf.iter()
            .enumerate()
            .all(|(i, &b)| b == ((start + i) % 251) as u8)
    }

    #[test]
    fn a_new_chunk_is_exactly_one_chunk_while_records_hold_the_old_one() {
        let mut buf = filled(READ_CHUNK - 100);
        let held = buf.split_to(READ_CHUNK - 1000).freeze();
        make_room(&mut buf);
        assert_eq!(buf.len(), 900, "the unparsed tail moves along");
        assert!(pattern_from(READ_CHUNK - 1000, &buf));
        assert_eq!(buf.capacity(), READ_CHUNK);
        assert!(!held.as_ptr_range().contains(&buf.as_ptr()));
    }

    #[test]
    fn the_old_chunk_is_reused_once_nothing_holds_it() {
        let mut buf = filled(READ_CHUNK - 100);
        let start = buf.as_ptr() as usize;
        drop(buf.split_to(READ_CHUNK - 1000).freeze());
        make_room(&mut buf);
        assert_eq!(
            buf.as_ptr() as usize,
            start,
            "same allocation, tail moved to its start"
        );
        assert_eq!(buf.capacity(), READ_CHUNK);
        assert!(pattern_from(READ_CHUNK - 1000, &buf));
    }

    #[test]
    fn a_long_tail_in_a_free_chunk_gets_one_chunk_not_a_doubling() {
        // 20 KiB read and gone, 40 KiB of a message pending: moving it is not cheap, and
        // `reserve` would have made a 128 KiB block.
        let mut buf = filled(READ_CHUNK - 4 * 1024);
        drop(buf.split_to(20 * 1024).freeze());
        make_room(&mut buf);
        assert_eq!(buf.len(), READ_CHUNK - 24 * 1024);
        assert_eq!(buf.capacity(), READ_CHUNK);
        assert!(pattern_from(20 * 1024, &buf));
    }

    #[test]
    fn a_message_longer_than_a_chunk_is_copied_a_logarithmic_number_of_times() {
        // A 1 MiB line read 4 KiB at a time, with nothing taken out of the buffer.
        let mut buf = new();
        let mut moves = 0;
        while buf.len() < 1 << 20 {
            let at = buf.as_ptr();
            make_room(&mut buf);
            assert!(buf.capacity() - buf.len() >= MIN_ROOM);
            moves += usize::from(buf.as_ptr() != at);
            let len = buf.len();
            buf.extend((len..len + 4096).map(|i| (i % 251) as u8));
        }
        assert!(moves <= 6, "moved {moves} times");
        assert!(pattern_from(0, &buf));
    }

    #[test]
    fn enough_room_leaves_the_buffer_alone() {
        let mut buf = filled(100);
        let (start, capacity) = (buf.as_ptr(), buf.capacity());
        make_room(&mut buf);
        assert_eq!((buf.as_ptr(), buf.capacity()), (start, capacity));
    }
}
