//! An output's memory buffer: bounded in records and bytes, counting what is queued and what
//! is in flight, so memory stays bounded whatever the destination does. When full it either
//! blocks the producer (back-pressure reaches the input) or drops the newest batch (counted).

use super::{BufferSettings, MemoryBudget, Push, WhenFull};
use crate::batch::Slice;
use crate::metrics::OutputMetrics;
use crate::pipeline::batcher::{BatchSettings, Queue};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Default)]
struct State {
    queue: Queue,
    /// Records and bytes queued plus in flight (what the limits bound).
    held_records: usize,
    held_bytes: usize,
    producers: usize,
    closed: bool,
    /// The driver has stopped; nothing more is accepted.
    stopped: bool,
    /// Send whatever is queued now, without waiting for `max_age`.
    flush: bool,
    /// A producer is waiting for room: holding a partial request back for `max_age` would
    /// stall it, so the next request goes out as it is.
    producer_waiting: bool,
}

/// One output's buffer, shared by the routers that feed it and the driver that drains it.
#[derive(Debug)]
pub(crate) struct MemoryBuffer {
    state: Mutex<State>,
    space: Notify,
    data: Notify,
    settings: BufferSettings,
    metrics: Arc<OutputMetrics>,
    /// The process-wide `memory_limit`, if set.
    budget: Option<Arc<MemoryBudget>>,
}

impl MemoryBuffer {
    /// A buffer bounded by `settings`, and by the process-wide budget if there is one.
    pub(crate) fn new(
        settings: BufferSettings,
        metrics: Arc<OutputMetrics>,
        budget: Option<Arc<MemoryBudget>>,
    ) -> Self {
        MemoryBuffer {
            budget,
            state: Mutex::new(State::default()),
            space: Notify::new(),
            data: Notify::new(),
            settings,
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a router that will push; the buffer closes when all have finished.
    pub(crate) fn add_producer(&self) {
        self.lock().producers += 1;
    }

    /// A router has finished; the last one closes the buffer.
    pub(crate) fn producer_done(&self) {
        let mut state = self.lock();
        state.producers -= 1;
        if state.producers == 0 {
            state.closed = true;
            drop(state);
            self.data.notify_waiters();
        }
    }

    /// Sends whatever is queued without waiting for `max_age` (shutdown drain).
    pub(crate) fn flush_now(&self) {
        self.lock().flush = true;
        self.data.notify_waiters();
    }

    /// Offers a slice, waiting for room when `when_full = "block"`.
    pub(crate) async fn push(&self, slice: Slice) -> Push {
        let (records, bytes) = (slice.len(), slice.bytes());
        loop {
            let space = self.space.notified();
            tokio::pin!(space);
            let freed = self.budget.as_ref().map(|b| b.freed.notified());
            tokio::pin!(freed);
            if let Some(freed) = freed.as_mut().as_pin_mut() {
                freed.enable();
            }
            {
                let mut state = self.lock();
                if state.stopped {
                    return Push::Stopped(slice);
                }
                // An empty buffer takes anything, so one oversized batch cannot wedge it.
                let fits = (state.held_records == 0
                    || (state.held_records + records <= self.settings.max_records
                        && state.held_bytes + bytes <= self.settings.max_bytes.0 as usize))
                    && self
                        .budget
                        .as_ref()
                        .is_none_or(|b| b.try_take(MemoryBudget::charge(records, bytes)));
                if fits {
                    state.held_records += records;
                    state.held_bytes += bytes;
                    state.queue.push(slice, Instant::now());
                    drop(state);
                    self.metrics.buffer_records.add(records as i64);
                    self.metrics.buffer_bytes.add(bytes as i64);
                    self.data.notify_one();
                    return Push::Accepted;
                }
                if self.settings.when_full == WhenFull::DropNewest {
                    return Push::Full(slice);
                }
                // Register for the wake-up before releasing the lock so none is missed.
                space.as_mut().enable();
                state.producer_waiting = true;
            }
            self.data.notify_one();
            match freed.as_mut().as_pin_mut() {
                Some(freed) => {
                    tokio::select! {
                        _ = &mut space => {}
                        _ = freed => {}
                    }
                }
                None => space.await,
            }
        }
    }

    /// Waits for the next request's slices: a full request, the oldest record's `max_age`,
    /// or a close/flush. `None` once the buffer is closed and empty.
    pub(crate) async fn next_request(&self, settings: &BatchSettings) -> Option<Vec<Slice>> {
        loop {
            let data = self.data.notified();
            tokio::pin!(data);
            let deadline = {
                let mut state = self.lock();
                let queued = state.queue.records();
                if queued > 0
                    && (state.closed
                        || state.flush
                        || state.producer_waiting
                        || state.queue.full(settings))
                {
                    state.producer_waiting = false;
                    return Some(state.queue.cut(settings));
                }
                if queued == 0 && state.closed {
                    return None;
                }
                match state.queue.deadline(settings) {
                    Some(at) if at <= Instant::now() => return Some(state.queue.cut(settings)),
                    deadline => {
                        data.as_mut().enable();
                        deadline
                    }
                }
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        _ = &mut data => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => data.await,
            }
        }
    }

    /// Stops accepting and takes everything still queued (the shutdown deadline).
    pub(crate) fn stop(&self) -> Vec<Slice> {
        let left = {
            let mut state = self.lock();
            state.stopped = true;
            state.queue.take_all()
        };
        self.space.notify_waiters();
        left
    }

    /// Frees the room held by settled records.
    pub(crate) fn release(&self, records: usize, bytes: usize) {
        {
            let mut state = self.lock();
            state.held_records -= records;
            state.held_bytes = state.held_bytes.saturating_sub(bytes);
        }
        self.metrics.buffer_records.add(-(records as i64));
        self.metrics.buffer_bytes.add(-(bytes as i64));
        if let Some(budget) = &self.budget {
            budget.give_back(MemoryBudget::charge(records, bytes));
        }
        self.space.notify_waiters();
    }
}
