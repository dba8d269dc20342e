//! Where result downloads may go: public addresses only, checked after DNS resolution (in
//! the connector's resolver) and on every redirect hop, so a result URL or a redirect cannot
//! reach loopback, private, link-local or metadata addresses. The one exception is a
//! provider whose own base URL is on loopback (the mock, a local proxy): it may download
//! from that same host and port.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Redirect hops a download may follow.
pub const DOWNLOAD_REDIRECTS_MAX: usize = 5;

/// Which hosts a download may reach besides public addresses.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    /// `host:port` of a loopback base URL, when the provider's base URL is on loopback.
    loopback_origin: Option<(String, u16)>,
}

impl Reach {
    /// The reach for a provider at `base_url`.
    pub fn for_base(base_url: &str) -> Self {
        let loopback_origin = Url::parse(base_url).ok().and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            let port = u.port_or_known_default()?;
            is_loopback_host(&host).then_some((host, port))
        });
        Self { loopback_origin }
    }

    /// Whether `url` is the provider's own loopback origin.
    fn is_own_loopback(&self, url: &Url) -> bool {
        let (Some((host, port)), Some(h), Some(p)) =
            (&self.loopback_origin, url.host_str(), url.port_or_known_default())
        else {
            return false;
        };
        h.eq_ignore_ascii_case(host) && p == *port
    }

    /// Why `url` may not be fetched, if it may not: a scheme other than HTTP(S), or a host
    /// that is a non-public address literal. Names are checked again after resolution.
    pub fn refuse(&self, url: &Url) -> Option<String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Some(format!("{url} is not an http(s) URL"));
        }
        if self.is_own_loopback(url) {
            return None;
        }
        let host = url.host_str().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        match literal {
            Some(ip) if !is_public(ip) => Some(format!("{host} is not a public address")),
            None if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") => {
                Some(format!("{host} is not a public address"))
            }
            _ => None,
        }
    }

    /// The redirect policy for downloads: at most [`DOWNLOAD_REDIRECTS_MAX`] hops, each one
    /// checked as the first URL was.
    pub fn redirect_policy(&self) -> reqwest::redirect::Policy {
        let reach = self.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > DOWNLOAD_REDIRECTS_MAX {
                return attempt.error(format!("more than {DOWNLOAD_REDIRECTS_MAX} redirects"));
            }
            match reach.refuse(attempt.url()) {
                Some(why) => attempt.error(Unreachable(format!("a redirect to {why}"))),
                None => attempt.follow(),
            }
        })
    }

    /// The resolver that drops non-public addresses (keeping the own loopback origin's).
    pub fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver { allowed_host: self.loopback_origin.as_ref().map(|(h, _)| h.clone()) })
    }
}

/// A download refused for where it would go.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// A DNS resolver that returns only public addresses, so a name that points at a private
/// address (DNS rebinding included: the check is on the addresses actually connected to)
/// cannot be reached.
pub struct GuardedResolver {
    allowed_host: Option<String>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allowed = self.allowed_host.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| allowed || is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(Unreachable(format!("{host} resolves to no public address"))) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local (the cloud
/// metadata service), shared, documentation, benchmarking, multicast, reserved or
/// unspecified; IPv4-mapped and NAT64 IPv6 addresses are judged by their IPv4 part.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        // NAT64: the IPv4 address it stands for.
        return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[..6] == [0; 6]; // IPv4-compatible (deprecated) and the rest of ::/96
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        let cases = [
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("2606:4700::1111", true),
            ("127.0.0.1", false),
            ("127.8.9.10", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false), // cloud metadata
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("192.0.0.170", false),
            ("198.18.0.1", false),
            ("203.0.113.5", false),
            ("224.0.0.1", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            ("::1", false),
            ("::", false),
            ("fd00::1", false),
            ("fe80::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::a9fe:a9fe", false), // NAT64 of 169.254.169.254
            ("::127.0.0.1", false),
        ];
        for (ip, public) in cases {
            assert_eq!(is_public(ip.parse().unwrap()), public, "{ip}");
        }
    }

    /// The check after DNS: a name that resolves only to loopback is refused by the
    /// resolver itself (DNS rebinding cannot slip past a URL check), unless it is the
    /// provider's own loopback host.
    #[tokio::test]
    async fn the_resolver_drops_non_public_addresses() {
        use std::str::FromStr;
        let guarded = Reach::for_base("https://api.provider.example").resolver();
        let err = guarded.resolve(Name::from_str("localhost").unwrap()).await.err().expect("refused");
        assert!(err.downcast_ref::<Unreachable>().is_some(), "{err}");
        let own = Reach::for_base("http://localhost:4100").resolver();
        let addrs: Vec<SocketAddr> = own.resolve(Name::from_str("localhost").unwrap()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }

    #[test]
    fn a_loopback_base_may_reach_its_own_origin_and_nothing_else_private() {
        let mock = Reach::for_base("http://127.0.0.1:4100/bfl");
        let url = |u: &str| Url::parse(u).unwrap();
        assert_eq!(mock.refuse(&url("http://127.0.0.1:4100/files/a.png")), None);
        assert!(mock.refuse(&url("http://127.0.0.1:4101/files/a.png")).is_some(), "another port");
        assert!(mock.refuse(&url("http://169.254.169.254/latest/meta-data")).is_some());
        assert!(mock.refuse(&url("http://localhost:4100/x")).is_some(), "another host name");
        assert!(mock.refuse(&url("file:///etc/passwd")).is_some());
        let public = Reach::for_base("https://api.bfl.ai");
        assert!(public.refuse(&url("http://127.0.0.1:4100/files/a.png")).is_some());
        assert!(public.refuse(&url("http://[::1]/x")).is_some());
        assert!(public.refuse(&url("http://[::ffff:10.0.0.1]/x")).is_some());
        assert!(public.refuse(&url("http://LOCALHOST/x")).is_some());
        assert_eq!(public.refuse(&url("https://cdn.example.com/a.png")), None);
    }
}
