//! The SSRF guard. A webhook URL is chosen by a user, so without a guard hookd would POST to
//! whatever sits on its own network (cloud metadata, admin panels, the database). Addresses
//! are classified after DNS resolution, and the connection goes to the very address that was
//! checked, so a second resolution cannot swap in a private one (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP network in CIDR form, e.g. `10.0.0.0/8` or `::1/128`. A bare address is a /32 (/128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| "not an IP address".to_string())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or("bad prefix length")?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why an address is not a public unicast one, or `None` if it is.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("carrier-grade NAT")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("multicast or reserved")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if (a == 192 && b == 0 && ip.octets()[2] == 0) || (a == 198 && (18..20).contains(&b)) {
        Some("reserved")
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address carries by a translation or tunnelling convention:
/// NAT64 (`64:ff9b::/96`, and the local-use `64:ff9b:1::/48`, whose address sits in bits
/// 48–63 and 72–87 as RFC 6052 lays out a /48), IPv4-translated (`::ffff:0:0/96`, RFC 2765),
/// 6to4 (`2002::/16`) and IPv4-compatible (`::/96`). Such addresses reach the IPv4 host, so
/// they are judged as that host.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let low = Ipv4Addr::new((seg[6] >> 8) as u8, seg[6] as u8, (seg[7] >> 8) as u8, seg[7] as u8);
    let b = ip.octets();
    match seg {
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        [0x64, 0xff9b, 1, ..] => Some(Ipv4Addr::new(b[6], b[7], b[9], b[10])),
        [0x2002, hi, lo, ..] => {
            Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8))
        }
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_loopback() && !ip.is_unspecified() => Some(low),
        _ => None,
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if let Some(v4) = embedded_v4(ip) {
        v4_reason(v4)
    } else if first == 0x2001 && ip.segments()[1] == 0 {
        Some("Teredo tunnel")
    } else if first & 0xffc0 == 0xfec0 {
        Some("site-local")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// The policy: which non-public addresses the operator allows.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allowed: Vec<IpNet>,
}

impl Guard {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// `Err` with the reason if hookd must not connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        match non_public_reason(ip) {
            Some(_) if self.allowed.iter().any(|net| net.contains(ip)) => Ok(()),
            Some(why) => Err(format!(
                "refused to connect to {ip}: {why} address (allow it with HOOKD_ALLOWED_NETWORKS)"
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            // IPv4-translated (RFC 2765) 127.0.0.1 and 10.0.0.1.
            "::ffff:0:7f00:1",
            "::ffff:0:a00:1",
            // Local-use NAT64 (RFC 8215) /48 of 127.0.0.1 and 169.254.169.254 (RFC 6052 layout).
            "64:ff9b:1:7f00:0:100::",
            "64:ff9b:1:a9fe:a9:fe00::",
        ] {
            assert!(non_public_reason(ip(bad)).is_some(), "{bad} should be refused");
        }
        for good in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "100.128.0.1",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
            // 93.184.216.34 through local-use NAT64, which the low 32 bits would misread.
            "64:ff9b:1:5db8:d8:2200::",
            "::ffff:0:5db8:d822",
        ] {
            assert!(non_public_reason(ip(good)).is_none(), "{good} should pass");
        }
    }

    #[test]
    fn allow_list_opens_networks() {
        let guard = Guard::new(vec!["127.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]);
        assert!(guard.check(ip("127.0.0.2")).is_ok());
        assert!(guard.check(ip("::ffff:127.0.0.1")).is_ok());
        assert!(guard.check(ip("fd12::1")).is_ok());
        assert!(guard.check(ip("10.0.0.1")).is_err());
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("0.0.0.0/0".parse::<IpNet>().unwrap().contains(ip("8.8.8.8")));
    }
}
