//! The server's TOML configuration: parsing, validation and errors that name the key and the line.
//!
//! Every value the operator writes is checked here once; the rest of the server works with the
//! validated [`Config`] and never sees raw TOML. Syntax and type errors come from the TOML parser
//! (which already reports line and column); semantic errors (an empty address range, T1 above T2, a
//! subnet that names no interface) are reported against the span of the offending key.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// A configuration error: what is wrong, the key it concerns and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// TOML syntax or type error, as reported by the parser (includes line and column).
    #[error("{0}")]
    Syntax(String),
    /// A value that parses but is not acceptable.
    #[error("line {line}: key `{key}`: {reason}")]
    Invalid {
        /// Dotted path of the key, e.g. `subnet[0].addresses[1]`.
        key: String,
        /// 1-based line of the value.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server-wide settings.
    pub server: ServerConfig,
    /// Lease store settings.
    pub store: StoreConfig,
    /// Lifetimes handed to clients.
    pub lifetimes: Lifetimes,
    /// Options handed to every client.
    pub options: ClientOptions,
    /// The subnets served.
    pub subnets: Vec<Subnet>,
    /// Failover relationships (none: a standalone server).
    pub failover: Vec<crate::partner::RelationshipConfig>,
    /// Path of the local control socket (`ctl`), if enabled.
    pub control_socket: Option<PathBuf>,
}

/// Server-wide settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Interfaces on which to listen for multicast (ff02::1:2) traffic from directly attached clients.
    pub interfaces: Vec<String>,
    /// UDP port to listen on (547 in production; a high port for unprivileged runs).
    pub port: u16,
    /// UDP port that directly attached clients listen on (546 in production).
    pub client_port: u16,
    /// Address to bind the UDP socket to (`::` by default).
    pub bind: Ipv6Addr,
    /// Value of the Preference option in Advertise (RFC 8415 §21.8).
    pub preference: u8,
    /// Whether to honour Rapid Commit (RFC 8415 §18.3.1).
    pub rapid_commit: bool,
    /// Local address for the Prometheus metrics endpoint (none: disabled).
    pub metrics: Option<SocketAddr>,
    /// Depth of the bounded queue between the socket and the store (packets waiting for durability).
    pub queue_depth: usize,
    /// Whether the kernel drops, with a socket filter, the client messages this server would
    /// only discard after reading them (see [`crate::sockfilter`]); on by default.
    pub socket_filter: bool,
}

/// Lease store settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Path of the redb database file (holds the leases and the server DUID).
    pub path: PathBuf,
    /// Whether every commit is made durable (fsync) before the Replies it carries are sent.
    pub durable: bool,
    /// Largest number of lease changes in one grouped commit.
    pub max_batch: usize,
}

/// Lifetimes and renewal times handed to clients (RFC 8415 §21.4, §21.6, §21.21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// T1: when the client starts renewing.
    pub t1: Duration,
    /// T2: when the client starts rebinding.
    pub t2: Duration,
    /// Preferred lifetime of addresses and prefixes.
    pub preferred: Duration,
    /// Valid lifetime of addresses and prefixes.
    pub valid: Duration,
}

/// How the server treats the Client FQDN option (RFC 4704).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FqdnMode {
    /// Ignore the option (no Client FQDN in replies).
    Ignore,
    /// Echo the client's name and tell it the server performs no DNS updates (N bit set), so
    /// the client updates its own records.
    NoUpdate,
}

/// Options handed to every client that asks for them in its Option Request option.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// DNS recursive name servers (RFC 3646).
    pub dns_servers: Vec<Ipv6Addr>,
    /// Domain search list (RFC 3646).
    pub domain_search: Vec<String>,
    /// SOL_MAX_RT to send (RFC 8415 §21.24), if any.
    pub sol_max_rt: Option<Duration>,
    /// INF_MAX_RT to send (RFC 8415 §21.25), if any.
    pub inf_max_rt: Option<Duration>,
    /// Client FQDN handling.
    pub fqdn: FqdnMode,
}

/// An inclusive range of addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    /// First address.
    pub first: Ipv6Addr,
    /// Last address.
    pub last: Ipv6Addr,
}

/// A pool of prefixes to delegate: every `/delegated_len` inside `prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixPool {
    /// The covering prefix.
    pub prefix: Ipv6Addr,
    /// Its length.
    pub prefix_len: u8,
    /// Length of each delegated prefix.
    pub delegated_len: u8,
}

/// One served link.
#[derive(Debug, Clone)]
pub struct Subnet {
    /// Name used in logs and metrics.
    pub name: String,
    /// Interface on which its clients are directly attached, if any.
    pub interface: Option<String>,
    /// The link's on-link prefix: relayed traffic whose link-address falls in it selects this
    /// subnet, and Confirm checks addresses against it.
    pub link: Option<(Ipv6Addr, u8)>,
    /// Address ranges for IA_NA.
    pub addresses: Vec<AddressRange>,
    /// Prefix pools for IA_PD.
    pub prefixes: Vec<PrefixPool>,
}

// ---- raw serde shapes -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: RawServer,
    store: RawStore,
    #[serde(default)]
    lifetimes: Option<Spanned<RawLifetimes>>,
    #[serde(default)]
    options: RawOptions,
    #[serde(default)]
    subnet: Vec<RawSubnet>,
    #[serde(default)]
    failover: Vec<Spanned<crate::partner::RawRelationship>>,
    #[serde(default)]
    control: Option<RawControl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControl {
    socket: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default)]
    interfaces: Vec<Spanned<String>>,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default = "default_client_port")]
    client_port: u16,
    #[serde(default)]
    bind: Option<Spanned<String>>,
    #[serde(default)]
    preference: u8,
    #[serde(default = "yes")]
    rapid_commit: bool,
    #[serde(default)]
    metrics: Option<Spanned<String>>,
    #[serde(default = "default_queue_depth")]
    queue_depth: Spanned<usize>,
    #[serde(default = "yes")]
    socket_filter: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Spanned<String>,
    #[serde(default = "yes")]
    durable: bool,
    #[serde(default = "default_max_batch")]
    max_batch: Spanned<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLifetimes {
    t1_secs: u32,
    t2_secs: u32,
    preferred_secs: u32,
    valid_secs: u32,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOptions {
    #[serde(default)]
    dns_servers: Vec<Spanned<String>>,
    #[serde(default)]
    domain_search: Vec<Spanned<String>>,
    #[serde(default)]
    sol_max_rt_secs: Option<Spanned<u32>>,
    #[serde(default)]
    inf_max_rt_secs: Option<Spanned<u32>>,
    #[serde(default)]
    fqdn: Option<FqdnMode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubnet {
    name: Spanned<String>,
    #[serde(default)]
    interface: Option<Spanned<String>>,
    #[serde(default)]
    link: Option<Spanned<String>>,
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    #[serde(default)]
    prefixes: Vec<Spanned<RawPrefixPool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrefixPool {
    prefix: String,
    delegated_len: u8,
}

fn default_port() -> u16 {
    547
}
fn default_client_port() -> u16 {
    546
}
fn default_queue_depth() -> Spanned<usize> {
    Spanned::new(0..0, 4096)
}
fn default_max_batch() -> Spanned<usize> {
    Spanned::new(0..0, 4096)
}
fn yes() -> bool {
    true
}

/// Default lifetimes when the file has no `[lifetimes]` table.
pub const DEFAULT_LIFETIMES: Lifetimes = Lifetimes {
    t1: Duration::from_secs(1800),
    t2: Duration::from_secs(2880),
    preferred: Duration::from_secs(3600),
    valid: Duration::from_secs(7200),
};

// RFC 8415 §21.24: SOL_MAX_RT between 60 and 86400 seconds.
const MAX_RT_RANGE: core::ops::RangeInclusive<u32> = 60..=86_400;

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse(&text)
}

/// Parses and validates configuration text.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
    Validator { text }.validate(raw)
}

struct Validator<'a> {
    text: &'a str,
}

impl Validator<'_> {
    fn err<T>(
        &self,
        key: impl Into<String>,
        span: core::ops::Range<usize>,
        reason: impl Into<String>,
    ) -> Result<T, ConfigError> {
        let line = self
            .text
            .get(..span.start)
            .map_or(1, |s| s.matches('\n').count() + 1);
        Err(ConfigError::Invalid {
            key: key.into(),
            line,
            reason: reason.into(),
        })
    }

    fn addr(&self, key: &str, v: &Spanned<String>) -> Result<Ipv6Addr, ConfigError> {
        match v.get_ref().parse::<Ipv6Addr>() {
            Ok(a) => Ok(a),
            Err(_) => self.err(
                key,
                v.span(),
                format!("`{}` is not an IPv6 address", v.get_ref()),
            ),
        }
    }

    fn prefix(
        &self,
        key: &str,
        text: &str,
        span: core::ops::Range<usize>,
    ) -> Result<(Ipv6Addr, u8), ConfigError> {
        let Some((a, l)) = text.split_once('/') else {
            return self.err(
                key,
                span,
                format!("`{text}` is not a prefix (expected ADDRESS/LENGTH)"),
            );
        };
        let (Ok(addr), Ok(len)) = (a.parse::<Ipv6Addr>(), l.parse::<u8>()) else {
            return self.err(
                key,
                span,
                format!("`{text}` is not a prefix (expected ADDRESS/LENGTH)"),
            );
        };
        if len > 128 {
            return self.err(key, span, format!("prefix length {len} exceeds 128"));
        }
        if u128::from(addr) & !mask(len) != 0 {
            return self.err(
                key,
                span,
                format!("`{text}` has bits set beyond its length"),
            );
        }
        Ok((addr, len))
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let mut interfaces = Vec::new();
        for (i, name) in raw.server.interfaces.iter().enumerate() {
            if name.get_ref().is_empty() || name.get_ref().len() > 15 {
                return self.err(
                    format!("server.interfaces[{i}]"),
                    name.span(),
                    "interface names are 1 to 15 characters",
                );
            }
            interfaces.push(name.get_ref().clone());
        }
        let bind = match &raw.server.bind {
            Some(b) => self.addr("server.bind", b)?,
            None => Ipv6Addr::UNSPECIFIED,
        };
        let metrics = match &raw.server.metrics {
            Some(m) => match m.get_ref().parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    return self.err(
                        "server.metrics",
                        m.span(),
                        format!("`{}` is not ADDRESS:PORT", m.get_ref()),
                    );
                }
            },
            None => None,
        };
        let queue_depth = *raw.server.queue_depth.get_ref();
        if !(16..=1_000_000).contains(&queue_depth) {
            return self.err(
                "server.queue_depth",
                raw.server.queue_depth.span(),
                "must be between 16 and 1000000",
            );
        }
        let server = ServerConfig {
            interfaces,
            port: raw.server.port,
            client_port: raw.server.client_port,
            bind,
            preference: raw.server.preference,
            rapid_commit: raw.server.rapid_commit,
            metrics,
            queue_depth,
            socket_filter: raw.server.socket_filter,
        };

        let max_batch = *raw.store.max_batch.get_ref();
        if !(1..=1_000_000).contains(&max_batch) {
            return self.err(
                "store.max_batch",
                raw.store.max_batch.span(),
                "must be between 1 and 1000000",
            );
        }
        if raw.store.path.get_ref().is_empty() {
            return self.err("store.path", raw.store.path.span(), "must not be empty");
        }
        let store = StoreConfig {
            path: PathBuf::from(raw.store.path.get_ref()),
            durable: raw.store.durable,
            max_batch,
        };

        let lifetimes = match &raw.lifetimes {
            None => DEFAULT_LIFETIMES,
            Some(l) => {
                let r = l.get_ref();
                //= https://www.rfc-editor.org/rfc/rfc8415#section-21.4
                // Paraphrased: If the server receives an IA with T1 greater than T2 [...] the values are invalid.
                //= https://www.rfc-editor.org/rfc/rfc8415#section-21.6
                // Paraphrased: If the preferred lifetime is greater than the valid lifetime, the client MUST discard the IA Address option.
                if r.t1_secs > r.t2_secs {
                    return self.err("lifetimes.t1_secs", l.span(), "T1 must not exceed T2");
                }
                if r.preferred_secs > r.valid_secs {
                    return self.err(
                        "lifetimes.preferred_secs",
                        l.span(),
                        "the preferred lifetime must not exceed the valid lifetime",
                    );
                }
                if r.valid_secs == 0 {
                    return self.err("lifetimes.valid_secs", l.span(), "must be positive");
                }
                if r.t2_secs > r.preferred_secs {
                    return self.err(
                        "lifetimes.t2_secs",
                        l.span(),
                        "T2 should not exceed the preferred lifetime",
                    );
                }
                Lifetimes {
                    t1: Duration::from_secs(r.t1_secs.into()),
                    t2: Duration::from_secs(r.t2_secs.into()),
                    preferred: Duration::from_secs(r.preferred_secs.into()),
                    valid: Duration::from_secs(r.valid_secs.into()),
                }
            }
        };

        let mut dns_servers = Vec::new();
        for (i, a) in raw.options.dns_servers.iter().enumerate() {
            dns_servers.push(self.addr(&format!("options.dns_servers[{i}]"), a)?);
        }
        let mut domain_search = Vec::new();
        for (i, d) in raw.options.domain_search.iter().enumerate() {
            let name = d.get_ref().trim_end_matches('.');
            let ok = !name.is_empty()
                && name.len() <= 253
                && name.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            if !ok {
                return self.err(
                    format!("options.domain_search[{i}]"),
                    d.span(),
                    format!("`{}` is not a domain name", d.get_ref()),
                );
            }
            domain_search.push(name.to_owned());
        }
        let max_rt =
            |key: &str, v: &Option<Spanned<u32>>| -> Result<Option<Duration>, ConfigError> {
                match v {
                    None => Ok(None),
                    Some(s) if MAX_RT_RANGE.contains(s.get_ref()) => {
                        Ok(Some(Duration::from_secs((*s.get_ref()).into())))
                    }
                    Some(s) => self.err(
                        key,
                        s.span(),
                        "must be between 60 and 86400 (RFC 8415 §21.24, §21.25)",
                    ),
                }
            };
        let options = ClientOptions {
            dns_servers,
            domain_search,
            sol_max_rt: max_rt("options.sol_max_rt_secs", &raw.options.sol_max_rt_secs)?,
            inf_max_rt: max_rt("options.inf_max_rt_secs", &raw.options.inf_max_rt_secs)?,
            fqdn: raw.options.fqdn.unwrap_or(FqdnMode::NoUpdate),
        };

        let mut subnets: Vec<Subnet> = Vec::new();
        for (i, s) in raw.subnet.iter().enumerate() {
            let name = s.name.get_ref().clone();
            if name.is_empty() || subnets.iter().any(|o| o.name == name) {
                return self.err(
                    format!("subnet[{i}].name"),
                    s.name.span(),
                    "subnet names must be unique and non-empty",
                );
            }
            let interface = s.interface.as_ref().map(|n| n.get_ref().clone());
            if let (Some(ifname), Some(span)) =
                (&interface, s.interface.as_ref().map(Spanned::span))
                && !server.interfaces.contains(ifname)
            {
                return self.err(
                    format!("subnet[{i}].interface"),
                    span,
                    format!("`{ifname}` is not listed in server.interfaces"),
                );
            }
            let link = match &s.link {
                Some(l) => {
                    Some(self.prefix(&format!("subnet[{i}].link"), l.get_ref(), l.span())?)
                }
                None => None,
            };
            if interface.is_none() && link.is_none() {
                return self.err(
                    format!("subnet[{i}]"),
                    s.name.span(),
                    "a subnet needs an `interface` or a `link` prefix (or both)",
                );
            }
            let mut addresses = Vec::new();
            for (j, r) in s.addresses.iter().enumerate() {
                let key = format!("subnet[{i}].addresses[{j}]");
                let text = r.get_ref();
                let range = if let Some((a, b)) = text.split_once('-') {
                    let (Ok(first), Ok(last)) =
                        (a.trim().parse::<Ipv6Addr>(), b.trim().parse::<Ipv6Addr>())
                    else {
                        return self.err(
                            key,
                            r.span(),
                            format!("`{text}` is not FIRST-LAST or ADDRESS/LENGTH"),
                        );
                    };
                    AddressRange { first, last }
                } else if text.contains('/') {
                    let (p, len) = self.prefix(&key, text, r.span())?;
                    let first = u128::from(p);
                    AddressRange {
                        first: p,
                        last: Ipv6Addr::from(first | !mask(len)),
                    }
                } else {
                    return self.err(
                        key,
                        r.span(),
                        format!("`{text}` is not FIRST-LAST or ADDRESS/LENGTH"),
                    );
                };
                if u128::from(range.first) > u128::from(range.last) {
                    return self.err(key, r.span(), "the first address is above the last");
                }
                if let Some((lp, ll)) = link
                    && (!in_prefix(range.first, lp, ll) || !in_prefix(range.last, lp, ll))
                {
                    return self.err(
                        key,
                        r.span(),
                        format!("range is not inside the subnet's link {lp}/{ll}"),
                    );
                }
                let overlaps = subnets
                    .iter()
                    .flat_map(|o| o.addresses.iter())
                    .chain(addresses.iter())
                    .any(|o: &AddressRange| {
                        u128::from(o.first) <= u128::from(range.last)
                            && u128::from(range.first) <= u128::from(o.last)
                    });
                if overlaps {
                    return self.err(key, r.span(), "range overlaps another address range");
                }
                addresses.push(range);
            }
            let mut prefixes = Vec::new();
            for (j, p) in s.prefixes.iter().enumerate() {
                let key = format!("subnet[{i}].prefixes[{j}]");
                let (prefix, prefix_len) = self.prefix(&key, &p.get_ref().prefix, p.span())?;
                let delegated_len = p.get_ref().delegated_len;
                if delegated_len < prefix_len || delegated_len > 128 {
                    return self.err(key, p.span(), format!("delegated_len {delegated_len} must lie between the pool's length {prefix_len} and 128"));
                }
                let pool = PrefixPool {
                    prefix,
                    prefix_len,
                    delegated_len,
                };
                let overlaps = subnets
                    .iter()
                    .flat_map(|o| o.prefixes.iter())
                    .chain(prefixes.iter())
                    .any(|o: &PrefixPool| {
                        let l = o.prefix_len.min(prefix_len);
                        in_prefix(o.prefix, prefix, l) && in_prefix(prefix, o.prefix, l)
                    });
                if overlaps {
                    return self.err(key, p.span(), "prefix pool overlaps another prefix pool");
                }
                prefixes.push(pool);
            }
            if addresses.is_empty() && prefixes.is_empty() {
                return self.err(
                    format!("subnet[{i}]"),
                    s.name.span(),
                    "a subnet needs at least one address range or prefix pool",
                );
            }
            subnets.push(Subnet {
                name,
                interface,
                link,
                addresses,
                prefixes,
            });
        }
        if subnets.is_empty() {
            return Err(ConfigError::Invalid {
                key: "subnet".into(),
                line: 1,
                reason: "at least one [[subnet]] is required".into(),
            });
        }
        let failover = crate::partner::validate_relationships(self.text, &raw.failover, &subnets)?;
        Ok(Config {
            server,
            store,
            lifetimes,
            options,
            subnets,
            failover,
            control_socket: raw.control.map(|c| PathBuf::from(c.socket)),
        })
    }
}

/// The network mask of a prefix length (0..=128).
pub fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// Whether `addr` lies inside `prefix/len`.
pub fn in_prefix(addr: Ipv6Addr, prefix: Ipv6Addr, len: u8) -> bool {
    (u128::from(addr) ^ u128::from(prefix)) & mask(len) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
interfaces = ["eth0"]
port = 547
metrics = "127.0.0.1:9547"

[store]
path = "/tmp/x.redb"

[lifetimes]
t1_secs = 100
t2_secs = 160
preferred_secs = 200
valid_secs = 300

[options]
dns_servers = ["2001:db8::53"]
domain_search = ["example.com"]
sol_max_rt_secs = 3600

[[subnet]]
name = "lan"
interface = "eth0"
link = "2001:db8:1::/64"
addresses = ["2001:db8:1::100-2001:db8:1::1ff", "2001:db8:1::1:0/112"]
prefixes = [{ prefix = "2001:db8:100::/40", delegated_len = 56 }]
"#;

    #[test]
    fn parses_a_complete_file() {
        let c = parse(GOOD).expect("valid config");
        assert_eq!(c.subnets.len(), 1);
        assert_eq!(
            c.subnets[0].addresses[1].last,
            "2001:db8:1::1:ffff".parse::<Ipv6Addr>().expect("addr")
        );
        assert_eq!(c.lifetimes.t2, Duration::from_secs(160));
        assert_eq!(c.options.sol_max_rt, Some(Duration::from_secs(3600)));
        assert_eq!(
            c.server.metrics,
            Some("127.0.0.1:9547".parse().expect("sockaddr"))
        );
    }

    #[test]
    fn semantic_errors_name_key_and_line() {
        let bad = GOOD.replace(
            "2001:db8:1::100-2001:db8:1::1ff",
            "2001:db8:1::300-2001:db8:1::1ff",
        );
        let e = parse(&bad).expect_err("first above last");
        assert_eq!(
            e,
            ConfigError::Invalid {
                key: "subnet[0].addresses[0]".into(),
                line: 25,
                reason: "the first address is above the last".into()
            }
        );
        let bad = GOOD.replace("2001:db8:1::1:0/112", "2001:db8:2::/112");
        let e = parse(&bad).expect_err("outside link").to_string();
        assert!(
            e.starts_with("line 25: key `subnet[0].addresses[1]`"),
            "{e}"
        );
        let bad = GOOD.replace("t1_secs = 100", "t1_secs = 170");
        assert!(
            parse(&bad)
                .expect_err("t1 > t2")
                .to_string()
                .contains("lifetimes.t1_secs")
        );
        let bad = GOOD.replace("interface = \"eth0\"", "interface = \"eth9\"");
        assert!(
            parse(&bad)
                .expect_err("unknown iface")
                .to_string()
                .contains("line 23: key `subnet[0].interface`")
        );
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let bad = GOOD.replace("port = 547", "port = \"x\"");
        let e = parse(&bad).expect_err("type error").to_string();
        assert!(e.contains("line 4"), "{e}");
        let bad = GOOD.replace("port = 547", "prot = 547");
        let e = parse(&bad).expect_err("unknown key").to_string();
        assert!(e.contains("prot") && e.contains("line 4"), "{e}");
    }

    #[test]
    fn shipped_examples_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("config dir exists") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                n += 1;
            }
        }
        assert!(n >= 2, "expected at least two example configurations");
    }
}
