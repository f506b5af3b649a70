//! The record ledger: how logferry proves it never loses a record silently.
//!
//! Every record is counted once as received by its input and, for every output that takes
//! that input, ends in exactly one of: delivered, rejected (with a reason), dropped (with a
//! reason) or still buffered. One lock guards all counters and is taken once per batch or
//! request (never per record), so a snapshot balances exactly at any moment:
//! `received(input) + replayed = delivered + rejected + dropped + buffered` for every
//! (input, output), where `replayed` counts records a disk buffer kept from an earlier run.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Index of an input in the running topology.
pub type InputId = usize;
/// Index of an output in the running topology.
pub type OutputId = usize;
/// Index of an (input, output) route in the ledger.
pub type RouteId = usize;

/// How a buffered record left the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    Delivered,
    /// Refused for good by the destination (or unencodable); the code names why.
    Rejected(&'static str),
    /// Discarded by logferry itself; the code names why (`buffer_full`, `shutdown`, …).
    Dropped(&'static str),
}

/// Counters of one (input, output) route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteCounts {
    pub input: String,
    pub output: String,
    pub delivered: u64,
    pub rejected: u64,
    pub dropped: u64,
    pub buffered: u64,
    /// Records found in the output's disk buffer at start, left by an earlier run.
    pub replayed: u64,
    pub rejected_by: BTreeMap<&'static str, u64>,
    pub dropped_by: BTreeMap<&'static str, u64>,
}

/// A consistent copy of the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// (input name, records received)
    pub received: Vec<(String, u64)>,
    pub routes: Vec<RouteCounts>,
}

impl Snapshot {
    /// Checks `received + replayed = delivered + rejected + dropped + buffered` on every
    /// route.
    pub fn check_balance(&self) -> Result<(), String> {
        for route in &self.routes {
            let received = self
                .received
                .iter()
                .find(|(name, _)| *name == route.input)
                .map_or(0, |(_, n)| *n)
                + route.replayed;
            let accounted = route.delivered + route.rejected + route.dropped + route.buffered;
            if received != accounted {
                return Err(format!(
                    "route {} -> {}: received (with replayed) {received} but delivered {} + rejected {} + dropped {} + buffered {} = {accounted}",
                    route.input,
                    route.output,
                    route.delivered,
                    route.rejected,
                    route.dropped,
                    route.buffered
                ));
            }
        }
        Ok(())
    }

    /// The route from `input` to `output`, if there is one.
    pub fn route(&self, input: &str, output: &str) -> Option<&RouteCounts> {
        self.routes
            .iter()
            .find(|r| r.input == input && r.output == output)
    }

    /// Records received by `input`.
    pub fn received(&self, input: &str) -> u64 {
        self.received
            .iter()
            .find(|(name, _)| name == input)
            .map_or(0, |(_, n)| *n)
    }
}

struct State {
    received: Vec<u64>,
    routes: Vec<RouteCounts>,
}

/// The ledger of a running topology.
pub struct Ledger {
    state: Mutex<State>,
    routes_of_input: Vec<Vec<RouteId>>,
    route_index: Vec<Vec<Option<RouteId>>>,
}

impl Ledger {
    /// A ledger for these inputs and outputs, where `takes[o]` lists the inputs output `o`
    /// takes.
    pub fn new(inputs: &[String], outputs: &[String], takes: &[Vec<InputId>]) -> Self {
        let mut routes = Vec::new();
        let mut routes_of_input = vec![Vec::new(); inputs.len()];
        let mut route_index = vec![vec![None; outputs.len()]; inputs.len()];
        for (output, taken) in takes.iter().enumerate() {
            for &input in taken {
                let id = routes.len();
                routes.push(RouteCounts {
                    input: inputs[input].clone(),
                    output: outputs[output].clone(),
                    ..RouteCounts::default()
                });
                routes_of_input[input].push(id);
                route_index[input][output] = Some(id);
            }
        }
        Ledger {
            state: Mutex::new(State {
                received: vec![0; inputs.len()],
                routes,
            }),
            routes_of_input,
            route_index,
        }
    }

    /// The route from `input` to `output`.
    pub fn route(&self, input: InputId, output: OutputId) -> Option<RouteId> {
        self.route_index.get(input)?.get(output).copied().flatten()
    }

    /// `records` arrived at `input`; they are now buffered on each of its routes.
    pub fn received(&self, input: InputId, records: u64) {
        let mut state = self.lock();
        state.received[input] += records;
        for &route in &self.routes_of_input[input] {
            state.routes[route].buffered += records;
        }
    }

    /// `records` were found in a disk buffer at start, on `route`: buffered again.
    pub fn replayed(&self, route: RouteId, records: u64) {
        let mut state = self.lock();
        state.routes[route].replayed += records;
        state.routes[route].buffered += records;
    }

    /// `records` of `input` were discarded before reaching any output buffer.
    pub fn dropped_at_input(&self, input: InputId, records: u64, reason: &'static str) {
        let mut state = self.lock();
        for &route in &self.routes_of_input[input] {
            settle(&mut state.routes[route], records, Settled::Dropped(reason));
        }
    }

    /// Settles buffered records, several routes at once under one lock.
    pub fn settle(&self, entries: impl IntoIterator<Item = (RouteId, u64, Settled)>) {
        let mut state = self.lock();
        for (route, records, how) in entries {
            settle(&mut state.routes[route], records, how);
        }
    }

    /// A consistent copy of every counter.
    pub fn snapshot(&self, input_names: &[String]) -> Snapshot {
        let state = self.lock();
        Snapshot {
            received: input_names
                .iter()
                .cloned()
                .zip(state.received.iter().copied())
                .collect(),
            routes: state.routes.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave counters half-updated in a way that
        // matters more than losing all of them, so keep counting.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn settle(route: &mut RouteCounts, records: u64, how: Settled) {
    debug_assert!(route.buffered >= records, "settling more than buffered");
    route.buffered = route.buffered.saturating_sub(records);
    match how {
        Settled::Delivered => route.delivered += records,
        Settled::Rejected(code) => {
            route.rejected += records;
            *route.rejected_by.entry(code).or_default() += records;
        }
        Settled::Dropped(code) => {
            route.dropped += records;
            *route.dropped_by.entry(code).or_default() += records;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_on_every_route_through_every_path() {
        let names = vec!["a".to_string(), "b".to_string()];
        let outs = vec!["x".to_string(), "y".to_string()];
        let ledger = Ledger::new(&names, &outs, &[vec![0, 1], vec![0]]);
        ledger.received(0, 10);
        ledger.received(1, 4);
        let (ax, ay, bx) = (
            ledger.route(0, 0).unwrap(),
            ledger.route(0, 1).unwrap(),
            ledger.route(1, 0).unwrap(),
        );
        assert_eq!(ledger.route(1, 1), None);
        ledger.settle([
            (ax, 6, Settled::Delivered),
            (ax, 1, Settled::Rejected("http_400")),
            (ay, 10, Settled::Delivered),
        ]);
        ledger.dropped_at_input(1, 2, "input_queue_full");
        ledger.settle([(bx, 1, Settled::Dropped("buffer_full"))]);
        let snap = ledger.snapshot(&names);
        snap.check_balance().unwrap();
        let r = snap.route("a", "x").unwrap();
        assert_eq!((r.delivered, r.rejected, r.buffered), (6, 1, 3));
        assert_eq!(r.rejected_by["http_400"], 1);
        let r = snap.route("b", "x").unwrap();
        assert_eq!((r.dropped, r.buffered), (3, 1));
        assert_eq!(r.dropped_by["input_queue_full"], 2);
    }

    #[test]
    fn detects_an_imbalance() {
        let mut snap = Snapshot {
            received: vec![("a".into(), 3)],
            routes: vec![RouteCounts {
                input: "a".into(),
                output: "x".into(),
                delivered: 2,
                ..RouteCounts::default()
            }],
        };
        assert!(snap.check_balance().is_err());
        snap.routes[0].buffered = 1;
        assert!(snap.check_balance().is_ok());
    }
}
