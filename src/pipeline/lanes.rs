//! Lanes: for an output whose destination throttles each key (a tenant) on its own, one
//! queue, one request in flight and one backoff per key. A dispatcher cuts requests from the
//! output's buffer as usual and splits each by key into runs of records (slices of the shared
//! batches, nothing copied); every lane sends its parts in order.
//!
//! The buffer still bounds everything: records waiting in a lane count as held until their
//! verdict, so a lane that stays blocked long enough fills the buffer and back-pressure then
//! reaches the inputs, as with one lane.

use super::driver::{DriverContext, Verdict, deliver, settle};
use crate::batch::Slice;
use crate::output::{Output, Rejection};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// A lane with nothing to do for this long ends (a tenant seen once does not keep a task);
/// it is made again when its key comes back.
const IDLE: Duration = Duration::from_secs(300);

/// Runs the dispatcher: `keys` renders lane keys and makes lane instances, `first` serves
/// the first lane.
pub(super) async fn run<O: Output>(mut keys: O, first: O, cx: DriverContext) {
    let cx = Arc::new(cx);
    let mut first = Some(first);
    let mut lanes: HashMap<String, mpsc::UnboundedSender<Vec<Slice>>> = HashMap::new();
    let mut tasks = JoinSet::new();
    loop {
        let slices = tokio::select! {
            biased;
            _ = cx.hard_stop.cancelled() => break,
            next = cx.buffer.next_request(&cx.settings.batch) => match next {
                Some(slices) => slices,
                None => break,
            },
        };
        for (key, part) in split(&mut keys, slices) {
            let part = match lanes.get(&key) {
                Some(lane) => match lane.send(part) {
                    Ok(()) => continue,
                    // The lane ended while idle: make it again.
                    Err(mpsc::error::SendError(part)) => part,
                },
                None => part,
            };
            let Some(output) = first.take().or_else(|| keys.lane_output()) else {
                settle(
                    part,
                    Verdict::Rejected(Rejection::new("lane", "the output could not open a lane")),
                    &cx,
                );
                continue;
            };
            let (tx, rx) = mpsc::unbounded_channel();
            tx.send(part).ok();
            tasks.spawn(lane(output, rx, Arc::clone(&cx)));
            lanes.insert(key, tx);
        }
        // Reap lanes that ended while idle.
        while tasks.try_join_next().is_some() {}
        lanes.retain(|_, tx| !tx.is_closed());
    }
    let left = cx.buffer.stop();
    if !left.is_empty() {
        let n: usize = left.iter().map(Slice::len).sum();
        tracing::warn!(output = %cx.name, records = n, "shutdown deadline passed; dropping undelivered records");
        settle(left, Verdict::Abandoned, &cx);
    }
    drop(lanes);
    while tasks.join_next().await.is_some() {}
    keys.shutdown().await;
}

/// Splits a request into one part per lane key, keeping each key's records in order.
fn split<O: Output>(keys: &mut O, slices: Vec<Slice>) -> Vec<(String, Vec<Slice>)> {
    let mut parts: Vec<(String, Vec<Slice>)> = Vec::new();
    let (mut key, mut next) = (String::new(), String::new());
    for mut slice in slices {
        loop {
            let records = slice.records();
            let input = slice.batch.input_name();
            key.clear();
            keys.lane_key(&records[0], input, &mut key);
            let mut n = 1;
            while n < records.len() {
                next.clear();
                keys.lane_key(&records[n], input, &mut next);
                if next != key {
                    break;
                }
                n += 1;
            }
            let (run, rest) = if n < slice.len() {
                (slice.split_front(n), Some(slice))
            } else {
                (slice, None)
            };
            match parts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, part)) => part.push(run),
                None => parts.push((key.clone(), vec![run])),
            }
            match rest {
                Some(rest) => slice = rest,
                None => break,
            }
        }
    }
    parts
}

/// One lane: its parts in order, one request in flight.
async fn lane<O: Output>(
    mut output: O,
    mut rx: mpsc::UnboundedReceiver<Vec<Slice>>,
    cx: Arc<DriverContext>,
) {
    loop {
        let part = match tokio::time::timeout(IDLE, rx.recv()).await {
            Ok(Some(part)) => part,
            Ok(None) => break,
            // Closing makes the dispatcher's next send fail (and open a new lane); what
            // was sent before the close is still received and delivered here.
            Err(_) => {
                rx.close();
                continue;
            }
        };
        let verdict = deliver(&mut output, &part, &cx).await;
        settle(part, verdict, &cx);
    }
    output.shutdown().await;
}
