//! Read buffers of stream inputs. Records slice their fields out of the buffer without
//! copying, so every chunk stays allocated until the last record cut from it is freed, and
//! each read after that fills a new chunk (or the old one, once nothing holds it).

use bytes::BytesMut;

/// Bytes of one read chunk. 64 KiB is the largest block mimalloc serves from its shared
/// pages: a larger one gets pages of its own, which go back to the system only a while after
/// the block is freed. Chunks of 64 KiB plus a message's tail, one per read, kept 20–50 MB
/// committed at a million messages a second.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// Less free room than this and the next read gets a fresh chunk.
const MIN_ROOM: usize = 8 * 1024;

/// An empty read buffer.
pub(crate) fn new() -> BytesMut {
    BytesMut::with_capacity(READ_CHUNK)
}

/// Makes room for the next read: with less than 8 KiB free, the unparsed tail moves to the
/// start of a chunk of [`READ_CHUNK`] bytes. That is the current chunk if no record holds it
/// any more, else a new one; only a tail longer than the chunk makes a bigger block.
pub(crate) fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < MIN_ROOM {
        buf.reserve(READ_CHUNK.saturating_sub(buf.len()).max(MIN_ROOM));
    }
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
    fn a_tail_longer_than_a_chunk_still_gets_room() {
        let mut buf = filled(READ_CHUNK);
        make_room(&mut buf);
        assert!(buf.capacity() - buf.len() >= MIN_ROOM);
        assert_eq!(buf.len(), READ_CHUNK);
    }

    #[test]
    fn enough_room_leaves_the_buffer_alone() {
        let mut buf = filled(100);
        let (start, capacity) = (buf.as_ptr(), buf.capacity());
        make_room(&mut buf);
        assert_eq!((buf.as_ptr(), buf.capacity()), (start, capacity));
    }
}
