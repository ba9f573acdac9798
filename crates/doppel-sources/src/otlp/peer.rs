//! Naming what a span talks to from its attributes, for peers that send no spans of their
//! own: `peer.service`, then `db.system` (with `db.name` or `db.namespace`), then
//! `messaging.system` (with the destination), then the address (`server.address`,
//! `net.peer.name`, the host of `url.full` or `http.url`, `network.peer.address`).

use doppel_model::{Key, Kind};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;

/// What a span's attributes say about the other end of a call.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PeerAttrs<'a> {
    peer_service: Option<&'a str>,
    db_system: Option<&'a str>,
    db_name: Option<&'a str>,
    messaging_system: Option<&'a str>,
    destination: Option<&'a str>,
    address: Option<&'a str>,
    net_peer_name: Option<&'a str>,
    url: Option<&'a str>,
    peer_address: Option<&'a str>,
}

/// A named peer: its key and the engine, for datastores and queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    pub(crate) key: Key,
    pub(crate) engine: Option<String>,
}

impl<'a> PeerAttrs<'a> {
    /// Reads the attributes that name a peer (string values only; empty ones ignored).
    pub(crate) fn read(attributes: &'a [KeyValue]) -> PeerAttrs<'a> {
        let mut out = PeerAttrs::default();
        for attribute in attributes {
            let Some(Value::StringValue(value)) = attribute.value.as_ref().and_then(|v| v.value.as_ref()) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            let value = Some(value.as_str());
            match attribute.key.as_str() {
                "peer.service" => out.peer_service = value,
                "db.system" | "db.system.name" => out.db_system = value,
                "db.name" | "db.namespace" => out.db_name = value,
                "messaging.system" => out.messaging_system = value,
                "messaging.destination.name" | "messaging.destination" => out.destination = value,
                "server.address" => out.address = value,
                "net.peer.name" => out.net_peer_name = value,
                "url.full" | "http.url" => out.url = value,
                "network.peer.address" | "net.sock.peer.addr" | "net.peer.ip" => out.peer_address = value,
                _ => {}
            }
        }
        out
    }

    /// The queue a producer or consumer span names: its destination, or the system when
    /// there is none.
    pub(crate) fn queue(&self) -> Option<Peer> {
        let system = self.messaging_system?;
        let key = name_key(Kind::Queue, self.destination.unwrap_or(system))?;
        Some(Peer { key, engine: Some(system.to_string()) })
    }

    /// The peer a client span calls, by the attributes in order of preference; `None` when
    /// none names it. The kind comes from `db.system` (datastore) or `messaging.system`
    /// (queue) when present, even when `peer.service` gives the name.
    pub(crate) fn peer(&self) -> Option<Peer> {
        if let Some(service) = self.peer_service {
            let (kind, engine) = match (self.db_system, self.messaging_system) {
                (Some(db), _) => (Kind::Datastore, Some(db)),
                (None, Some(messaging)) => (Kind::Queue, Some(messaging)),
                (None, None) => (Kind::Service, None),
            };
            if let Some(key) = name_key(kind, service) {
                return Some(Peer { key, engine: engine.map(str::to_string) });
            }
        }
        if let Some(system) = self.db_system {
            let name = match self.db_name {
                Some(db) => format!("{system}-{db}"),
                None => system.to_string(),
            };
            if let Some(key) = name_key(Kind::Datastore, &name) {
                return Some(Peer { key, engine: Some(system.to_string()) });
            }
        }
        if let Some(queue) = self.queue() {
            return Some(queue);
        }
        let host = self.address.or(self.net_peer_name).or_else(|| self.url.and_then(url_host)).or(self.peer_address)?;
        Some(Peer { key: name_key(Kind::External, host)?, engine: None })
    }
}

/// The host of an absolute URL (`https://api.pay.example:443/v1` -> `api.pay.example`).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host.rsplit_once(':').map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host })
    };
    (!host.is_empty()).then_some(host)
}

/// A key of `kind` for a name from outside: whitespace and control characters become `-`,
/// slashes at either end are dropped, and it is cut to the model's 253 bytes. `None` when
/// nothing is left.
pub(crate) fn name_key(kind: Kind, raw: &str) -> Option<Key> {
    let mut name: String = raw.chars().map(|c| if c.is_whitespace() || c.is_control() { '-' } else { c }).collect();
    let trimmed = name.trim_matches('/');
    if trimmed.len() != name.len() {
        name = trimmed.to_string();
    }
    if name.len() > 253 {
        let mut end = 253;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
        name = name.trim_end_matches('/').to_string();
    }
    Key::new(kind, &name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::AnyValue;

    fn attrs(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
        pairs
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: Some(AnyValue { value: Some(Value::StringValue(v.to_string())) }),
                ..KeyValue::default()
            })
            .collect()
    }

    fn peer(pairs: &[(&str, &str)]) -> Option<String> {
        let kv = attrs(pairs);
        PeerAttrs::read(&kv).peer().map(|p| p.key.to_string())
    }

    #[test]
    fn peers_are_named_in_order() {
        assert_eq!(peer(&[("server.address", "x"), ("peer.service", "ledger")]).as_deref(), Some("service/ledger"));
        assert_eq!(
            peer(&[("db.system", "redis"), ("peer.service", "sessions")]).as_deref(),
            Some("datastore/sessions")
        );
        assert_eq!(
            peer(&[("db.system", "postgresql"), ("db.name", "orders")]).as_deref(),
            Some("datastore/postgresql-orders")
        );
        assert_eq!(peer(&[("db.system.name", "redis"), ("server.address", "r1")]).as_deref(), Some("datastore/redis"));
        assert_eq!(
            peer(&[("messaging.system", "kafka"), ("messaging.destination.name", "orders")]).as_deref(),
            Some("queue/orders")
        );
        assert_eq!(peer(&[("messaging.system", "rabbitmq")]).as_deref(), Some("queue/rabbitmq"));
        assert_eq!(peer(&[("server.address", "api.pay.example")]).as_deref(), Some("external/api.pay.example"));
        assert_eq!(peer(&[("net.peer.name", "smtp.mail")]).as_deref(), Some("external/smtp.mail"));
        assert_eq!(peer(&[("url.full", "https://u:p@api.x.io:8443/v1?q=1")]).as_deref(), Some("external/api.x.io"));
        assert_eq!(peer(&[("http.url", "http://[::1]:80/")]).as_deref(), Some("external/::1"));
        assert_eq!(peer(&[("network.peer.address", "10.0.0.7")]).as_deref(), Some("external/10.0.0.7"));
        assert_eq!(peer(&[("http.method", "GET")]), None);
        assert_eq!(peer(&[("server.address", "")]), None);
    }

    #[test]
    fn names_are_made_valid_keys() {
        assert_eq!(name_key(Kind::Service, "my service").map(|k| k.to_string()).as_deref(), Some("service/my-service"));
        assert_eq!(name_key(Kind::Queue, "/a/b/").map(|k| k.to_string()).as_deref(), Some("queue/a/b"));
        assert_eq!(name_key(Kind::External, "///"), None);
        let long = "é".repeat(200);
        let key = name_key(Kind::External, &long).expect("cut to a valid key");
        assert!(key.name().len() <= 253);
    }
}
