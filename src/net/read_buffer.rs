//! Read buffers of stream inputs. Records slice their fields out of the buffer without
//! copying, so every chunk stays allocated until the last record cut from it is freed, and
//! each read after that fills a new chunk (or the old one, once nothing holds it).

use bytes::BytesMut;

/// Bytes of one read chunk. 64 KiB is the largest block mimalloc serves from its shared
/// pages: a larger one gets pages of its own, which go back to the system only a while after
/// the block is freed. Chunks of 64 KiB plus a message's tail, one per read, kept 20–50 MB
/// committed at a million messages a second.
pub const READ_CHUNK: usize = 64 * 1024;

/// Less free room than this and the next read gets a fresh chunk.
const MIN_ROOM: usize = 8 * 1024;

/// An empty read buffer.
pub fn new() -> BytesMut {
    BytesMut::with_capacity(READ_CHUNK)
}

/// Makes room for the next read: with less than 8 KiB free, the unparsed tail moves to the
/// start of a chunk of [`READ_CHUNK`] bytes (or of the tail and 8 KiB, if longer). That is
/// the current chunk if nothing else holds it and the move is cheap, else a new one of
/// exactly that size: `BytesMut::reserve` would double a chunk it cannot reclaim.
pub fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() >= MIN_ROOM {
        return;
    }
    let size = READ_CHUNK.max(buf.len() + MIN_ROOM);
    if buf.try_reclaim(size - buf.len()) {
        return;
    }
    let mut chunk = BytesMut::with_capacity(size);
    chunk.extend_from_slice(buf);
    *buf = chunk;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: usize) -> BytesMut {
        let mut buf = new();
        buf.resize(n, b'x');
        buf
    }

    #[test]
    fn a_new_chunk_is_exactly_one_chunk_while_records_hold_the_old_one() {
        let mut buf = filled(READ_CHUNK - 100);
        let held = buf.split_to(READ_CHUNK - 1000).freeze();
        make_room(&mut buf);
        assert_eq!(buf.len(), 900, "the unparsed tail moves along");
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
        assert_eq!(&buf[..], &[b'x'; 900][..]);
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
        assert!(buf.iter().all(|&b| b == b'x'));
    }

    #[test]
    fn a_tail_longer_than_a_chunk_gets_exactly_8_kib_more() {
        let mut buf = filled(READ_CHUNK);
        make_room(&mut buf);
        assert_eq!(buf.len(), READ_CHUNK);
        assert_eq!(buf.capacity(), READ_CHUNK + MIN_ROOM);
    }

    #[test]
    fn enough_room_leaves_the_buffer_alone() {
        let mut buf = filled(100);
        let (start, capacity) = (buf.as_ptr(), buf.capacity());
        make_room(&mut buf);
        assert_eq!((buf.as_ptr(), buf.capacity()), (start, capacity));
    }
}
