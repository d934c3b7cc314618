//! Management paths: which configured relay (a trusted forwarding proxy at a site) a
//! request came through, and the client address it forwarded.
//!
//! `X-Forwarded-For` is read only when the TCP peer is inside a relay's addresses; from
//! any other peer the header is ignored, since anyone can send it.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;
use update_core::classes::parse_network;

use crate::store::CheckInSource;

/// Most relays a config may list, and most networks per relay.
const MAX_RELAYS: usize = 256;
const MAX_NETWORKS: usize = 64;
/// Longest `X-Forwarded-For` value considered; longer chains use the relay's address.
const MAX_FORWARDED_LEN: usize = 1024;

/// `[[relays]]` in the server config file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    pub name: String,
    /// CIDR networks (`"10.1.0.0/16"`, `"127.0.0.5/32"`, `"fd00::/8"`).
    pub addresses: Vec<String>,
}

/// The configured relays, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Relays {
    relays: Vec<(String, Vec<IpNet>)>,
}

impl Relays {
    pub fn new(configs: &[RelayConfig]) -> Result<Relays, String> {
        if configs.len() > MAX_RELAYS {
            return Err(format!("at most {MAX_RELAYS} relays may be configured"));
        }
        let mut relays = Vec::new();
        for config in configs {
            update_core::firmware::check_identifier("relay name", &config.name)?;
            if relays.iter().any(|(name, _)| name == &config.name) {
                return Err(format!("relay {:?} is configured twice", config.name));
            }
            if config.addresses.is_empty() || config.addresses.len() > MAX_NETWORKS {
                return Err(format!(
                    "relay {:?} needs 1 to {MAX_NETWORKS} addresses",
                    config.name
                ));
            }
            let networks = config
                .addresses
                .iter()
                .map(|text| {
                    parse_network(text).map_err(|e| format!("relay {:?}: {e}", config.name))
                })
                .collect::<Result<Vec<_>, _>>()?;
            relays.push((config.name.clone(), networks));
        }
        Ok(Relays { relays })
    }

    /// The relay whose addresses hold `address`.
    pub fn relay_of(&self, address: IpAddr) -> Option<&str> {
        self.relays
            .iter()
            .find(|(_, networks)| networks.iter().any(|n| n.contains(&address.to_canonical())))
            .map(|(name, _)| name.as_str())
    }

    /// Where a request from `peer` with `headers` came from. From a relay, the client is
    /// the rightmost `X-Forwarded-For` address that is not itself a relay; a missing,
    /// oversized or malformed header leaves the relay itself as the source.
    pub fn source(&self, peer: IpAddr, headers: &HeaderMap) -> CheckInSource {
        let peer = peer.to_canonical();
        let Some(relay) = self.relay_of(peer) else {
            return CheckInSource {
                address: peer.to_string(),
                relay: None,
            };
        };
        let forwarded = self.forwarded_client(headers).unwrap_or(peer);
        CheckInSource {
            address: forwarded.to_string(),
            relay: Some(relay.to_string()),
        }
    }

    fn forwarded_client(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let mut chain = Vec::new();
        let mut total = 0;
        for value in headers.get_all("x-forwarded-for") {
            let text = value.to_str().ok()?;
            total += text.len();
            if total > MAX_FORWARDED_LEN {
                return None;
            }
            chain.extend(text.split(','));
        }
        for entry in chain.iter().rev() {
            let address = entry.trim().parse::<IpAddr>().ok()?.to_canonical();
            if self.relay_of(address).is_none() {
                return Some(address);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn relays() -> Relays {
        Relays::new(&[RelayConfig {
            name: "site-gw-1".into(),
            addresses: vec!["127.0.0.5/32".into(), "10.0.0.0/8".into()],
        }])
        .unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn relays_hold_their_networks_only() {
        let relays = relays();
        assert_eq!(
            relays.relay_of("10.1.255.3".parse().unwrap()),
            Some("site-gw-1")
        );
        assert_eq!(
            relays.relay_of("::ffff:127.0.0.5".parse().unwrap()),
            Some("site-gw-1")
        );
        assert_eq!(relays.relay_of("127.0.0.6".parse().unwrap()), None);
        for bad in ["10.0.0.0/33", "x/8", "10.0.0.0/", "::/129"] {
            let config = RelayConfig {
                name: "gw".into(),
                addresses: vec![bad.into()],
            };
            assert!(Relays::new(&[config]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_rightmost_untrusted_forwarded_address_is_the_client() {
        let relays = relays();
        let peer = "127.0.0.5".parse().unwrap();
        let source = relays.source(peer, &headers(&["1.2.3.4, 127.0.0.9", "10.0.0.7"]));
        assert_eq!(source.address, "127.0.0.9");
        assert_eq!(source.relay.as_deref(), Some("site-gw-1"));
        // Malformed or absent: the relay itself.
        assert_eq!(
            relays.source(peer, &headers(&["nonsense"])).address,
            "127.0.0.5"
        );
        assert_eq!(relays.source(peer, &headers(&[])).address, "127.0.0.5");
    }

    #[test]
    fn other_peers_cannot_forward() {
        let source = relays().source("127.0.0.1".parse().unwrap(), &headers(&["127.0.0.9"]));
        assert_eq!(source.address, "127.0.0.1");
        assert_eq!(source.relay, None);
    }

    #[test]
    fn bad_relay_configs_are_refused() {
        let config = |name: &str, addresses: &[&str]| RelayConfig {
            name: name.into(),
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
        };
        assert!(Relays::new(&[config("a b", &["10.0.0.1"])]).is_err());
        assert!(Relays::new(&[config("a", &[])]).is_err());
        assert!(Relays::new(&[config("a", &["10.0.0.1/40"])]).is_err());
        assert!(Relays::new(&[config("a", &["10.0.0.1"]), config("a", &["10.0.0.2"])]).is_err());
    }
}
