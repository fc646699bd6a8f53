//! No server-side request forgery through a webhook: a delivery goes only to public
//! addresses. The host is resolved here, every address it resolves to is checked, and the
//! request is sent to the checked address (so a DNS answer that changes between the check
//! and the connection, "DNS rebinding", changes nothing). Redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// Whether `ip` is a global unicast address, the only kind a webhook may reach. An
/// allow-list (issue 24): public IPv4, and IPv6 in `2000::/3` outside every special-purpose
/// block of IANA's registries. Whatever is not known to be global is refused, so a form of
/// address nobody thought of (IPv4-compatible `::127.0.0.1`, IPv4-translated
/// `::ffff:0:7f00:1`, discard-only `100::1`) can't slip through as a deny-list let it.
/// An IPv4-mapped address (`::ffff:a.b.c.d`) is judged as the IPv4 address it reaches.
pub fn is_global(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

/// `(network, prefix length)`: the IPv4 blocks that are not public unicast. IANA's
/// special-purpose registry (including the few blocks it marks globally reachable, such as
/// AS112 and AMT relays: no receiver lives there), multicast, and the reserved rest.
const NOT_GLOBAL_V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network" (RFC 791)
    ([10, 0, 0, 0], 8),      // private (RFC 1918)
    ([100, 64, 0, 0], 10),   // shared address space, carrier-grade NAT (RFC 6598)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local, cloud metadata (RFC 3927)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments, DS-Lite, NAT64 discovery
    ([192, 0, 2, 0], 24),    // documentation TEST-NET-1 (RFC 5737)
    ([192, 31, 196, 0], 24), // AS112-v4 (RFC 7535)
    ([192, 52, 193, 0], 24), // AMT (RFC 7450)
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast, deprecated (RFC 7526)
    ([192, 168, 0, 0], 16),  // private
    ([192, 175, 48, 0], 24), // AS112 direct delegation (RFC 7534)
    ([198, 18, 0, 0], 15),   // benchmarking (RFC 2544)
    ([198, 51, 100, 0], 24), // documentation TEST-NET-2
    ([203, 0, 113, 0], 24),  // documentation TEST-NET-3
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the limited broadcast 255.255.255.255
];

/// `(network, prefix length)`: the blocks of `2000::/3` that are not global unicast (IANA's
/// IPv6 special-purpose registry). Everything outside `2000::/3` is refused anyway:
/// unspecified, loopback, IPv4-compatible and -translated, NAT64 (`64:ff9b::/96`,
/// `64:ff9b:1::/48`), discard-only `100::/64`, unique local, link-local, multicast.
const NOT_GLOBAL_V6: &[([u16; 8], u8)] = &[
    // IETF protocol assignments: Teredo 2001::/32, benchmarking 2001:2::/48, AMT, AS112,
    // ORCHID, drone identifiers…
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
    ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32), // documentation (RFC 3849)
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),      // 6to4: embeds any IPv4 address
    ([0x2620, 0x004f, 0x8000, 0, 0, 0, 0, 0], 48), // AS112 direct delegation
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),      // documentation (RFC 9637)
];

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    !NOT_GLOBAL_V4.iter().any(|&(net, len)| {
        let mask = u32::MAX << (32 - u32::from(len));
        ip & mask == u32::from(Ipv4Addr::from(net))
    })
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let ip = u128::from(ip);
    let in_block = |net: [u16; 8], len: u8| {
        let mask = u128::MAX << (128 - u32::from(len));
        ip & mask == u128::from(Ipv6Addr::from(net))
    };
    in_block([0x2000, 0, 0, 0, 0, 0, 0, 0], 3)
        && !NOT_GLOBAL_V6.iter().any(|&(net, len)| in_block(net, len))
}

/// Why a URL is refused as a webhook target: a sentence to show as it is (a host keeps its
/// case, so a message that starts with one starts in lower case).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("A webhook URL starts with http:// or https://")]
    Scheme,
    #[error("A webhook URL names a host")]
    NoHost,
    #[error("A webhook URL carries no user name or password")]
    Credentials,
    #[error("{0} is not a public address: webhooks go to the internet only")]
    Private(IpAddr),
    #[error("{0} does not resolve to any address")]
    Unresolved(String),
}

/// The URL's form alone: http(s), a host, no credentials.
pub fn check_form(url: &Url) -> Result<(), Refused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Scheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Refused::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    Ok(())
}

/// Resolve `url`'s host and check every address: the one to connect to, or why not.
pub async fn resolve(url: &Url, allow_private: bool) -> Result<SocketAddr, Refused> {
    check_form(url)?;
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    // `[::1]` comes with brackets from the URL; the resolver wants the address alone.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map(|a| a.collect())
            .unwrap_or_default(),
    };
    let Some(first) = addrs.first().copied() else {
        return Err(Refused::Unresolved(host.to_owned()));
    };
    if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_global(a.ip())) {
        return Err(Refused::Private(bad.ip()));
    }
    Ok(first)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    /// Every special-purpose block, and the IPv6 forms that embed or stand for an IPv4
    /// address, on either side of its edges.
    #[test]
    fn only_global_unicast_addresses_pass() {
        let cases: &[(&str, bool)] = &[
            // IPv4: this network, private, shared, loopback, link-local.
            ("0.0.0.0", false),
            ("0.255.255.255", false),
            ("10.0.0.1", false),
            ("10.255.255.255", false),
            ("100.63.255.255", true),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("100.128.0.0", true),
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("169.254.169.254", false),
            ("172.15.255.255", true),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("172.32.0.0", true),
            ("192.168.1.1", false),
            // IETF assignments, documentation, AS112, AMT, 6to4 relays, benchmarking.
            ("192.0.0.1", false),
            ("192.0.0.9", false),
            ("192.0.1.1", true),
            ("192.0.2.1", false),
            ("192.31.196.1", false),
            ("192.52.193.1", false),
            ("192.88.99.1", false),
            ("192.175.48.1", false),
            ("198.17.255.255", true),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("198.20.0.0", true),
            ("198.51.100.1", false),
            ("203.0.113.1", false),
            // Multicast, reserved, broadcast.
            ("224.0.0.1", false),
            ("239.255.255.255", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            // Public IPv4.
            ("1.1.1.1", true),
            ("8.8.8.8", true),
            ("93.184.216.34", true),
            ("223.255.255.255", true),
            // IPv6 outside 2000::/3.
            ("::", false),
            ("::1", false),
            ("::127.0.0.1", false),
            ("::8.8.8.8", false),
            ("::ffff:0:7f00:1", false),
            ("::ffff:0:808:808", false),
            ("64:ff9b::a00:1", false),
            ("64:ff9b::808:808", false),
            ("64:ff9b:1::1", false),
            ("100::1", false),
            ("100::ffff:ffff:ffff:ffff", false),
            ("100:0:0:1::1", false),
            ("5f00::1", false),
            ("fc00::1", false),
            ("fd00::1", false),
            ("fe80::1", false),
            ("febf::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("1fff:ffff::1", false),
            ("4000::1", false),
            // IPv4-mapped: judged as the IPv4 address.
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:8.8.8.8", true),
            // Special blocks inside 2000::/3.
            ("2001::1", false),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false), // Teredo
            ("2001:1::1", false),
            ("2001:2::1", false),
            ("2001:3::1", false),
            ("2001:4:112::1", false),
            ("2001:10::1", false),
            ("2001:20::1", false),
            ("2001:1ff:ffff::1", false),
            ("2001:200::1", true),
            ("2001:db8::1", false),
            ("2001:db9::1", true),
            ("2002:7f00:1::1", false), // 6to4 of 127.0.0.1
            ("2002:a00:1::1", false),  // 6to4 of 10.0.0.1
            ("2620:4f:8000::1", false),
            ("2620:4f:8001::1", true),
            ("3fff::1", false),
            ("3fff:fff::1", false),
            ("3fff:1000::1", true),
            // Global IPv6.
            ("2000::1", true),
            ("2606:4700:4700::1111", true),
            ("2a00:1450:4001::200e", true),
            ("3ffe::1", true),
        ];
        for (ip, global) in cases {
            assert_eq!(is_global(ip.parse().unwrap()), *global, "{ip}");
        }
    }

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            resolve(&url("http://127.0.0.1:9/x"), false).await,
            Err(Refused::Private("127.0.0.1".parse().unwrap()))
        );
        assert!(matches!(
            resolve(&url("http://localhost:9/"), false).await,
            Err(Refused::Private(_))
        ));
        assert!(matches!(
            resolve(&url("http://[::1]:9/"), false).await,
            Err(Refused::Private(_))
        ));
        assert!(resolve(&url("http://127.0.0.1:9/x"), true).await.is_ok());
        assert_eq!(
            resolve(&url("ftp://example.com/"), true).await,
            Err(Refused::Scheme)
        );
        assert_eq!(
            resolve(&url("http://user:pw@example.com/"), true).await,
            Err(Refused::Credentials)
        );
        assert!(matches!(
            resolve(&url("http://no-such-host.invalid/"), false).await,
            Err(Refused::Unresolved(_))
        ));
    }
}
