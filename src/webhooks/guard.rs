//! No server-side request forgery through a webhook: a delivery goes only to public
//! addresses. The host is resolved here, every address it resolves to is checked, and the
//! request is sent to the checked address (so a DNS answer that changes between the check
//! and the connection, "DNS rebinding", changes nothing). Redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use url::Url;

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                // Unique local (fc00::/7), link-local (fe80::/10), documentation (2001:db8::/32),
                // NAT64 (64:ff9b::/96, which can reach IPv4 private space), 6to4 and Teredo.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b)
                || s[0] == 0x2002
                || (s[0] == 0x2001 && s[1] == 0))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // Carrier-grade NAT 100.64.0.0/10, IETF 192.0.0.0/24, benchmarking 198.18.0.0/15,
        // reserved 240.0.0.0/4.
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240)
}

/// Why a URL is refused as a webhook target.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("a webhook URL starts with http:// or https://")]
    Scheme,
    #[error("a webhook URL names a host")]
    NoHost,
    #[error("a webhook URL carries no user name or password")]
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
    if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(Refused::Private(bad.ip()));
    }
    Ok(first)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
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
