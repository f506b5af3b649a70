//! From one framed message to a record: parse, then attach what the transport knows (peer
//! address, transport, truncation) and a resource shared by every message of the same host
//! and app.

use super::parse::{Names, ParseOptions, parse_with};
use crate::input::InputContext;
use crate::record::{AnyValue, LogRecord, Resource, Str};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;

/// Resources cached per decoder before the cache is reset (bounds memory when a sender
/// varies its host or app name).
const MAX_RESOURCES: usize = 1024;

/// (host name, app name): what makes messages share a resource.
type ResourceKey = (Option<Str>, Option<Str>);

/// Decodes the messages of one connection or socket.
pub(crate) struct Decoder {
    transport: &'static str,
    resources: HashMap<ResourceKey, Arc<Resource>>,
    /// The last peer seen and its text form (datagram sockets see many peers).
    peer: Option<(std::net::SocketAddr, Str)>,
    peer_text: Option<Str>,
    last: Option<(ResourceKey, Arc<Resource>)>,
    last_warned: Option<std::time::Instant>,
}

/// Least time between two parse-failure warnings of one decoder.
const WARN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

impl Decoder {
    pub(crate) fn new(transport: &'static str) -> Self {
        Decoder {
            transport,
            resources: HashMap::new(),
            peer: None,
            peer_text: None,
            last: None,
            last_warned: None,
        }
    }

    /// Sets the sender's address for the messages that follow.
    pub(crate) fn set_peer(&mut self, peer: Option<std::net::SocketAddr>) {
        match peer {
            Some(addr) => {
                if self.peer.as_ref().map(|(a, _)| *a) != Some(addr) {
                    let text = Str::from(addr.ip().to_string());
                    self.peer = Some((addr, text.clone()));
                }
                self.peer_text = self.peer.as_ref().map(|(_, t)| t.clone());
            }
            None => self.peer_text = None,
        }
    }

    /// Parses `message` into a record appended to `out`, counting truncations and parse
    /// failures.
    pub(crate) fn decode(
        &mut self,
        message: Bytes,
        truncated: bool,
        opts: &ParseOptions,
        observed: u64,
        cx: &InputContext,
        out: &mut Vec<LogRecord>,
    ) {
        let (mut record, resource, error) = parse_with(message, opts, |names| self.resource(names));
        if let Some(error) = error {
            cx.metrics.parse_failures.add(1);
            // Counted always, logged at most once per interval per connection or socket.
            let now = std::time::Instant::now();
            if self
                .last_warned
                .is_none_or(|at| now.duration_since(at) >= WARN_INTERVAL)
            {
                self.last_warned = Some(now);
                tracing::warn!(input = %cx.name, peer = ?self.peer.as_ref().map(|(a, _)| a), %error, "unparseable syslog message kept whole (further ones counted in logferry_input_parse_failures_total)");
            }
        }
        record.observed_time_unix_nano = observed;
        if let Some(peer) = &self.peer_text {
            record.attributes.push((
                Str::from_static("network.peer.address"),
                AnyValue::String(peer.clone()),
            ));
        }
        record.attributes.push((
            Str::from_static("network.transport"),
            AnyValue::String(Str::from_static(self.transport)),
        ));
        if truncated {
            cx.metrics.truncated.add(1);
            record
                .attributes
                .push((Str::from_static("log.truncated"), AnyValue::Bool(true)));
        }
        record.resource = resource;
        out.push(record);
    }

    fn resource(&mut self, names: &Names) -> Arc<Resource> {
        // Consecutive messages mostly come from the same program: compare text, skip the
        // hash lookup, make no strings.
        if let Some((last_key, resource)) = &self.last
            && last_key.0.as_deref() == names.host()
            && last_key.1.as_deref() == names.app()
        {
            return Arc::clone(resource);
        }
        let (host, app) = (names.host_str(), names.app_str());
        let resource = self.lookup(host.clone(), app.clone());
        self.last = Some(((host, app), Arc::clone(&resource)));
        resource
    }

    fn lookup(&mut self, host: Option<Str>, app: Option<Str>) -> Arc<Resource> {
        let key = (host, app);
        if let Some(resource) = self.resources.get(&key) {
            return Arc::clone(resource);
        }
        if self.resources.len() >= MAX_RESOURCES {
            self.resources.clear();
        }
        let mut attributes = Vec::with_capacity(2);
        if let Some(host) = &key.0 {
            attributes.push((
                Str::from_static("host.name"),
                AnyValue::String(host.clone()),
            ));
        }
        if let Some(app) = &key.1 {
            attributes.push((
                Str::from_static("service.name"),
                AnyValue::String(app.clone()),
            ));
        }
        let resource = Arc::new(Resource {
            attributes,
            ..Resource::default()
        });
        self.resources.insert(key, Arc::clone(&resource));
        resource
    }
}
