//! The per-partner IP filter: addresses and CIDR ranges a partner may send from.

use std::net::{IpAddr, SocketAddr};

/// A list of networks; empty allows every address.
#[derive(Debug, Clone, Default)]
pub struct IpFilter {
    networks: Vec<(IpAddr, u8)>,
}

impl IpFilter {
    pub fn new(entries: &[String]) -> Result<Self, String> {
        let networks = entries
            .iter()
            .map(|e| Self::parse_entry(e))
            .collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    /// `192.0.2.1`, `10.0.0.0/8`, `2001:db8::/32`.
    pub fn parse_entry(entry: &str) -> Result<(IpAddr, u8), String> {
        let entry = entry.trim();
        let (address, prefix) = match entry.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (entry, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{entry}` is not an IP address or CIDR range"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{entry}`: the prefix length is 0 to {max}"))?,
        };
        Ok((address, prefix))
    }

    /// Is the peer `ip:port` (as the host reports it) allowed?
    pub fn allows(&self, remote_addr: &str) -> bool {
        if self.networks.is_empty() {
            return true;
        }
        let Some(ip) = parse_peer(remote_addr) else {
            return false;
        };
        self.networks
            .iter()
            .any(|(network, prefix)| contains(*network, *prefix, ip))
    }
}

fn parse_peer(remote_addr: &str) -> Option<IpAddr> {
    let ip = match remote_addr.parse::<SocketAddr>() {
        Ok(socket) => socket.ip(),
        Err(_) => remote_addr.parse().ok()?,
    };
    // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; filters are written in v4.
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

fn contains(network: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(entries: &[&str]) -> IpFilter {
        IpFilter::new(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn matches_addresses_and_ranges() {
        let f = filter(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
        assert!(f.allows("10.1.2.3:4000"));
        assert!(f.allows("192.0.2.7:1"));
        assert!(!f.allows("192.0.2.8:1"));
        assert!(f.allows("[2001:db8::1]:443"));
        assert!(!f.allows("[2001:db9::1]:443"));
        assert!(f.allows("[::ffff:10.9.9.9]:80"));
        assert!(!f.allows("garbage"));
        assert!(filter(&[]).allows("203.0.113.1:1"));
        assert!(filter(&["0.0.0.0/0"]).allows("203.0.113.1:1"));
    }

    #[test]
    fn rejects_bad_entries() {
        assert!(IpFilter::parse_entry("10.0.0.0/33").is_err());
        assert!(IpFilter::parse_entry("example.com").is_err());
        assert!(IpFilter::parse_entry("::/129").is_err());
    }
}
