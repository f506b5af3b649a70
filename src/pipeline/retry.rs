//! Exponential backoff with jitter for failed sends, honouring a destination's own
//! retry-after hint.

use crate::config::HumanDuration;
use serde::Deserialize;
use std::time::Duration;

/// `[outputs.NAME.retry]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Delay before the first retry; doubles with each further attempt.
    pub initial_backoff: HumanDuration,
    /// Ceiling of the doubling.
    pub max_backoff: HumanDuration,
    /// Attempts before a request is rejected as `retries_exhausted`; 0 retries until
    /// shutdown (the default: a log agent should outlast a destination's outage).
    pub max_attempts: u32,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            initial_backoff: HumanDuration(Duration::from_millis(200)),
            max_backoff: HumanDuration(Duration::from_secs(30)),
            max_attempts: 0,
        }
    }
}

/// A destination's retry-after hint is honoured up to this much, so a bogus header cannot
/// park an output for days.
const MAX_HINT: Duration = Duration::from_secs(3600);

/// The backoff state of one request.
#[derive(Debug)]
pub struct Backoff {
    settings: RetrySettings,
    attempts: u32,
    rng: u64,
}

impl Backoff {
    pub fn new(settings: &RetrySettings) -> Self {
        // Seeded per request so outputs that failed together do not retry in lockstep.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64)
            ^ (settings as *const _ as u64);
        Backoff {
            settings: settings.clone(),
            attempts: 0,
            rng: seed | 1,
        }
    }

    /// Records a failed attempt; true when no attempt is left.
    pub fn fail(&mut self) -> bool {
        self.attempts += 1;
        self.settings.max_attempts != 0 && self.attempts >= self.settings.max_attempts
    }

    /// Failed attempts so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How long to wait before the next attempt: the hint if the destination gave one,
    /// otherwise `initial * 2^(attempts-1)` capped at `max_backoff`, jittered into its upper
    /// half.
    pub fn delay(&mut self, hint: Option<Duration>) -> Duration {
        if let Some(hint) = hint {
            return hint.min(MAX_HINT);
        }
        let exp = self.attempts.saturating_sub(1).min(30);
        let base = self
            .settings
            .initial_backoff
            .0
            .saturating_mul(1 << exp)
            .min(self.settings.max_backoff.0);
        let half = base / 2;
        half + half.mul_f64(self.next_unit())
    }

    /// A uniform number in [0, 1) (xorshift64*).
    fn next_unit(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_attempts: u32) -> RetrySettings {
        RetrySettings {
            initial_backoff: HumanDuration(Duration::from_millis(100)),
            max_backoff: HumanDuration(Duration::from_secs(1)),
            max_attempts,
        }
    }

    #[test]
    fn doubles_with_jitter_up_to_the_ceiling() {
        let s = settings(0);
        let mut b = Backoff::new(&s);
        let mut bases = Vec::new();
        for _ in 0..8 {
            assert!(!b.fail());
            let d = b.delay(None);
            let base = Duration::from_millis(100 * (1 << (b.attempts() - 1).min(10)))
                .min(Duration::from_secs(1));
            assert!(
                d >= base / 2 && d <= base,
                "{d:?} outside [{:?}, {base:?}]",
                base / 2
            );
            bases.push(base);
        }
        assert_eq!(bases[4], Duration::from_secs(1));
    }

    #[test]
    fn honours_the_hint_and_caps_it() {
        let s = settings(0);
        let mut b = Backoff::new(&s);
        b.fail();
        assert_eq!(
            b.delay(Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(b.delay(Some(Duration::from_secs(1 << 30))), MAX_HINT);
    }

    #[test]
    fn stops_after_max_attempts() {
        let s = settings(3);
        let mut b = Backoff::new(&s);
        assert!(!b.fail());
        assert!(!b.fail());
        assert!(b.fail());
    }

    #[test]
    fn jitter_spreads_delays() {
        let s = settings(0);
        let delays: std::collections::HashSet<Duration> = (0..20)
            .map(|_| {
                let mut b = Backoff::new(&s);
                b.fail();
                b.fail();
                b.fail();
                b.delay(None)
            })
            .collect();
        assert!(delays.len() > 1, "jitter should vary delays: {delays:?}");
    }
}
