//! Lanes: for an output whose destination throttles each key (a tenant) on its own, one
//! queue, one request in flight and one backoff per key. A dispatcher cuts requests from the
//! output's buffer as usual and splits each by key into runs of records (slices of the shared
//! batches, nothing copied); every lane sends its parts in order.
//!
//! The buffer still bounds everything: records waiting in a lane count as held until their
//! verdict, so a lane that stays blocked long enough fills the buffer and back-pressure then
//! reaches the inputs, as with one lane.

use super::driver::{DriverContext, Verdict, abandon_rest, deliver, settle};
use crate::batch::Slice;
use crate::output::{Output, Rejection};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// A lane with nothing to do for this long ends (a tenant seen once does not keep a task);
/// it is made again when its key comes back, with fresh output state — so this matches the
/// hour outputs keep per-key state for (Loki's streams and their newest timestamps).
const IDLE: Duration = Duration::from_secs(3600);

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
    abandon_rest(&cx);
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

#[cfg(test)]
mod tests {
    use crate::ack::Delivery;
    use crate::input::BuiltInput;
    use crate::output::{Outcome, Rejection};
    use crate::pipeline::testing::ChannelInput;
    use crate::pipeline::tests::{bodies, records, send_acked};
    use crate::pipeline::{
        BufferSettings, BuiltOutput, DriverSettings, InputSpec, OutputSpec, Pipeline,
    };
    use crate::record::{AnyValue, LogRecord};

    /// An output with one lane per body prefix (`a-1` → lane `a`); lanes listed in `throttled`
    /// answer "retry in 1 s" to their first three attempts.
    struct Keyed {
        sent: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
        throttled: &'static [&'static str],
        failures: u32,
    }

    impl crate::output::Output for Keyed {
        type Request = Vec<String>;

        fn encode(
            &mut self,
            records: &crate::batch::Records<'_>,
        ) -> Result<Vec<String>, Rejection> {
            Ok(bodies(&records.iter().cloned().collect::<Vec<_>>()))
        }

        fn request_bytes(_: &Vec<String>) -> usize {
            0
        }

        async fn send(&mut self, request: &Vec<String>) -> Outcome {
            let lane = request[0].split('-').next().unwrap();
            if self.throttled.contains(&lane) && self.failures < 3 {
                self.failures += 1;
                return Outcome::Retry {
                    after: Some(std::time::Duration::from_secs(1)),
                    reason: "throttled".into(),
                };
            }
            self.sent.lock().unwrap().push(request.clone());
            Outcome::Delivered
        }

        fn lane_output(&self) -> Option<Self> {
            Some(Keyed {
                sent: self.sent.clone(),
                throttled: self.throttled,
                failures: 0,
            })
        }

        fn lane_key(&mut self, record: &LogRecord, _input: &str, key: &mut String) {
            key.push_str(record.body.as_str().unwrap().split('-').next().unwrap());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_lane_does_not_hold_up_the_others() {
        let (tx, input) = ChannelInput::new();
        let sent = std::sync::Arc::default();
        let output = Keyed {
            sent: std::sync::Arc::clone(&sent),
            throttled: &["a"],
            failures: 0,
        };
        let pipeline = Pipeline::start(
            vec![InputSpec {
                name: "in".into(),
                built: BuiltInput::new(input),
            }],
            vec![OutputSpec {
                name: "out".into(),
                built: BuiltOutput::new(output),
                takes: vec![0],
                buffer: BufferSettings::default(),
                driver: DriverSettings::default(),
                data_dir: std::env::temp_dir(),
            }],
        )
        .unwrap();
        let t0 = tokio::time::Instant::now();
        // Interleaved keys in one batch, then a batch of `b` only.
        let mixed: Vec<LogRecord> = ["a-0", "b-0", "a-1", "c-0", "b-1"]
            .iter()
            .map(|b| LogRecord::new(AnyValue::from(*b), 1))
            .collect();
        let first = send_acked(&tx, mixed).await;
        let second = send_acked(&tx, records(2, "b")).await;
        assert_eq!(second.wait().await, Delivery::Delivered);
        let b_done = t0.elapsed();
        assert_eq!(first.wait().await, Delivery::Delivered);
        let all_done = t0.elapsed();
        // `b` went out at the first cut (max_age 1 s) while `a` was still being retried.
        assert!(b_done < std::time::Duration::from_secs(3), "{b_done:?}");
        assert!(
            all_done >= std::time::Duration::from_secs(4),
            "{all_done:?}"
        );
        let sent = sent.lock().unwrap().clone();
        let lane = |k: &str| -> Vec<String> {
            sent.iter()
                .flat_map(|r| r.iter())
                .filter(|b| b.starts_with(k))
                .cloned()
                .collect()
        };
        assert_eq!(lane("a"), ["a-0", "a-1"]);
        assert_eq!(lane("b"), ["b-0", "b-1", "b-0", "b-1"]);
        assert_eq!(lane("c"), ["c-0"]);
        // Every request holds one lane's records only.
        for request in &sent {
            let key = request[0].split('-').next().unwrap();
            assert!(request.iter().all(|b| b.starts_with(key)), "{request:?}");
        }
        let snapshot = pipeline.ledger();
        snapshot.check_balance().unwrap();
        assert_eq!(snapshot.route("in", "out").unwrap().delivered, 7);
        drop(tx);
        assert!(
            pipeline
                .shutdown(std::time::Duration::from_secs(10))
                .await
                .is_empty()
        );
    }
}
