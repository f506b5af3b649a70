//! The record ledger: how logferry proves it never loses a record silently.
//!
//! Every record is counted once as received by its input. Its router then dispatches it to
//! the routes (input, output) it has at that moment, and on each route it ends in exactly
//! one of: delivered, rejected (with a reason), dropped (with a reason) or still buffered.
//! One lock guards all counters and is taken once per batch or request (never per record),
//! so a snapshot balances exactly at any moment:
//!
//! - per input: `received = pending + dispatched` (pending: in the input's queue);
//! - per route: `routed + replayed = delivered + rejected + dropped + buffered`, where
//!   `replayed` counts records a disk buffer kept from an earlier run.
//!
//! Counting routes when the router dispatches (not when the input sends) keeps this exact
//! while a reload changes which outputs take an input.

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
    /// Records the router dispatched on this route.
    pub routed: u64,
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
    /// (input name, records received but not yet dispatched by its router)
    pub pending: Vec<(String, u64)>,
    /// (input name, records dispatched to routes, or dropped before any)
    pub dispatched: Vec<(String, u64)>,
    pub routes: Vec<RouteCounts>,
}

impl Snapshot {
    /// Checks `received = pending + dispatched` on every input and
    /// `routed + replayed = delivered + rejected + dropped + buffered` on every route.
    pub fn check_balance(&self) -> Result<(), String> {
        for (((name, received), (_, pending)), (_, dispatched)) in self
            .received
            .iter()
            .zip(&self.pending)
            .zip(&self.dispatched)
        {
            if *received != pending + dispatched {
                return Err(format!(
                    "input {name}: received {received} but pending {pending} + dispatched {dispatched} = {}",
                    pending + dispatched
                ));
            }
        }
        for route in &self.routes {
            let entered = route.routed + route.replayed;
            let accounted = route.delivered + route.rejected + route.dropped + route.buffered;
            if entered != accounted {
                return Err(format!(
                    "route {} -> {}: routed {} + replayed {} = {entered} but delivered {} + rejected {} + dropped {} + buffered {} = {accounted}",
                    route.input,
                    route.output,
                    route.routed,
                    route.replayed,
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
    /// (input name, records received), by input id.
    received: Vec<(String, u64)>,
    /// Received but not yet dispatched, by input id.
    pending: Vec<u64>,
    /// Dispatched (or dropped before reaching a route), by input id.
    dispatched: Vec<u64>,
    routes: Vec<RouteCounts>,
    /// The routes each input's receipts are counted on now.
    routes_of_input: Vec<Vec<RouteId>>,
    /// `route_index[input][output]`: the route, once created (it is never removed, so
    /// records still in flight on a route that was dropped by a reload settle on it).
    route_index: Vec<Vec<Option<RouteId>>>,
    outputs: Vec<String>,
}

/// The ledger of a running topology. It grows as a reload adds inputs, outputs and routes,
/// and keeps the counts of those it retires.
pub struct Ledger {
    state: Mutex<State>,
}

impl Ledger {
    /// A ledger for these inputs and outputs, where `takes[o]` lists the inputs output `o`
    /// takes. Names are unique within each list (ids are per name).
    pub fn new(inputs: &[String], outputs: &[String], takes: &[Vec<InputId>]) -> Self {
        debug_assert!(
            inputs
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
                == inputs.len()
                && outputs
                    .iter()
                    .collect::<std::collections::HashSet<_>>()
                    .len()
                    == outputs.len(),
            "duplicate names"
        );
        let ledger = Ledger {
            state: Mutex::new(State {
                received: Vec::new(),
                pending: Vec::new(),
                dispatched: Vec::new(),
                routes: Vec::new(),
                routes_of_input: Vec::new(),
                route_index: Vec::new(),
                outputs: Vec::new(),
            }),
        };
        for name in inputs {
            ledger.add_input(name);
        }
        for (output, taken) in outputs.iter().zip(takes) {
            let id = ledger.add_output(output);
            for &input in taken {
                ledger.connect(input, id);
            }
        }
        ledger
    }

    /// The input called `name`: new and counted from zero, or (one removed by a reload and
    /// added back) counted on from where it left off.
    pub fn add_input(&self, name: &str) -> InputId {
        let mut state = self.lock();
        if let Some(id) = state.received.iter().position(|(n, _)| n == name) {
            return id;
        }
        state.received.push((name.to_owned(), 0));
        state.pending.push(0);
        state.dispatched.push(0);
        state.routes_of_input.push(Vec::new());
        let outputs = state.outputs.len();
        state.route_index.push(vec![None; outputs]);
        state.received.len() - 1
    }

    /// Inputs known so far (ids run from 0).
    pub fn input_count(&self) -> usize {
        self.lock().received.len()
    }

    /// The output called `name`: new with no routes yet, or (one removed by a reload, or
    /// that failed to start, and added back) with its routes as they were.
    pub fn add_output(&self, name: &str) -> OutputId {
        let mut state = self.lock();
        if let Some(id) = state.outputs.iter().position(|n| n == name) {
            return id;
        }
        state.outputs.push(name.to_owned());
        for row in &mut state.route_index {
            row.push(None);
        }
        state.outputs.len() - 1
    }

    /// Makes `input`'s route to `output` current (creating it the first time): records the
    /// input drops before dispatch are charged to its current routes.
    pub fn connect(&self, input: InputId, output: OutputId) -> RouteId {
        let mut state = self.lock();
        let id = match state.route_index[input][output] {
            Some(id) => id,
            None => {
                let id = state.routes.len();
                let counts = RouteCounts {
                    input: state.received[input].0.clone(),
                    output: state.outputs[output].clone(),
                    ..RouteCounts::default()
                };
                state.routes.push(counts);
                state.route_index[input][output] = Some(id);
                id
            }
        };
        if !state.routes_of_input[input].contains(&id) {
            state.routes_of_input[input].push(id);
        }
        id
    }

    /// Makes the route no longer current (a reload removed it); what is in flight on it
    /// still settles there.
    pub fn disconnect(&self, input: InputId, output: OutputId) {
        let mut state = self.lock();
        if let Some(id) = state.route_index[input][output] {
            state.routes_of_input[input].retain(|r| *r != id);
        }
    }

    /// The route from `input` to `output`.
    pub fn route(&self, input: InputId, output: OutputId) -> Option<RouteId> {
        let state = self.lock();
        state.route_index.get(input)?.get(output).copied().flatten()
    }

    /// `records` arrived at `input`; they wait in its queue until dispatched.
    pub fn received(&self, input: InputId, records: u64) {
        let mut state = self.lock();
        state.received[input].1 += records;
        state.pending[input] += records;
    }

    /// The router of `input` dispatched `records` on `routes`: buffered on each.
    pub fn routed(&self, input: InputId, records: u64, routes: impl IntoIterator<Item = RouteId>) {
        let mut state = self.lock();
        state.pending[input] -= records;
        state.dispatched[input] += records;
        for route in routes {
            let counts = &mut state.routes[route];
            counts.routed += records;
            counts.buffered += records;
        }
    }

    /// `records` were found in a disk buffer at start, on `route`: buffered again.
    pub fn replayed(&self, route: RouteId, records: u64) {
        let mut state = self.lock();
        state.routes[route].replayed += records;
        state.routes[route].buffered += records;
    }

    /// `records` of `input`, received, were discarded before dispatch: charged to the
    /// input's current routes as dropped.
    pub fn dropped_at_input(&self, input: InputId, records: u64, reason: &'static str) {
        let mut state = self.lock();
        let State {
            routes,
            routes_of_input,
            pending,
            dispatched,
            ..
        } = &mut *state;
        pending[input] -= records;
        dispatched[input] += records;
        for &route in &routes_of_input[input] {
            routes[route].routed += records;
            routes[route].buffered += records;
            settle(&mut routes[route], records, Settled::Dropped(reason));
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
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        let named = |v: &[u64]| {
            state
                .received
                .iter()
                .zip(v)
                .map(|((name, _), n)| (name.clone(), *n))
                .collect()
        };
        Snapshot {
            received: state.received.clone(),
            pending: named(&state.pending),
            dispatched: named(&state.dispatched),
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
        let (ax, ay, bx) = (
            ledger.route(0, 0).unwrap(),
            ledger.route(0, 1).unwrap(),
            ledger.route(1, 0).unwrap(),
        );
        assert_eq!(ledger.route(1, 1), None);
        ledger.received(0, 10);
        ledger.received(1, 4);
        assert!(
            ledger.snapshot().check_balance().is_ok(),
            "pending balances"
        );
        ledger.routed(0, 10, [ax, ay]);
        ledger.routed(1, 2, [bx]);
        ledger.settle([
            (ax, 6, Settled::Delivered),
            (ax, 1, Settled::Rejected("http_400")),
            (ay, 10, Settled::Delivered),
        ]);
        ledger.dropped_at_input(1, 2, "input_queue_full");
        ledger.settle([(bx, 1, Settled::Dropped("buffer_full"))]);
        let snap = ledger.snapshot();
        snap.check_balance().unwrap();
        let r = snap.route("a", "x").unwrap();
        assert_eq!((r.delivered, r.rejected, r.buffered), (6, 1, 3));
        assert_eq!(r.rejected_by["http_400"], 1);
        let r = snap.route("b", "x").unwrap();
        assert_eq!((r.dropped, r.buffered), (3, 1));
        assert_eq!(r.dropped_by["input_queue_full"], 2);
    }

    #[test]
    fn routes_added_and_removed_while_records_wait_still_balance() {
        let ledger = Ledger::new(&["a".to_string()], &["x".to_string()], &[vec![0]]);
        // Received while only x took it; dispatched after a reload added y and removed x.
        ledger.received(0, 5);
        let y = ledger.add_output("y");
        let ay = ledger.connect(0, y);
        ledger.disconnect(0, 0);
        ledger.routed(0, 5, [ay]);
        ledger.settle([(ay, 5, Settled::Delivered)]);
        let snap = ledger.snapshot();
        snap.check_balance().unwrap();
        assert_eq!(snap.route("a", "x").unwrap().routed, 0);
    }

    #[test]
    fn detects_an_imbalance() {
        let mut snap = Snapshot {
            received: vec![("a".into(), 3)],
            pending: vec![("a".into(), 0)],
            dispatched: vec![("a".into(), 3)],
            routes: vec![RouteCounts {
                input: "a".into(),
                output: "x".into(),
                routed: 3,
                delivered: 2,
                ..RouteCounts::default()
            }],
        };
        assert!(snap.check_balance().is_err());
        snap.routes[0].buffered = 1;
        assert!(snap.check_balance().is_ok());
        snap.dispatched[0].1 = 2;
        assert!(snap.check_balance().is_err());
    }
}
