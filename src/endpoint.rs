//! An OTLP endpoint as users write it (`https://otel-collector:4317`, `otel-collector:4317`,
//! `http://[::1]:4318/v1/traces`): scheme, host, port and path, kept as given so `check` can
//! say what is wrong with it. The value parser of `cli.rs`, so a malformed one is a usage error.

use std::fmt;
use std::net::Ipv6Addr;

use rustls::pki_types::ServerName;

pub use crate::model::Protocol;

/// OTLP/gRPC's port.
pub const GRPC_PORT: u16 = 4317;
/// OTLP/HTTP's port.
pub const HTTP_PORT: u16 = 4318;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Option<Scheme>,
    /// A DNS name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: Option<u16>,
    /// `""` or the path, e.g. `/v1/traces`.
    pub path: String,
}

/// The protocol's name for people: `OTLP/gRPC` or `OTLP/HTTP`.
pub fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Grpc => "OTLP/gRPC",
        Protocol::Http => "OTLP/HTTP",
    }
}

impl Endpoint {
    /// The host as it goes in a URL: IPv6 addresses in brackets.
    pub fn host_in_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// `host:port` for connecting, with `default_port` if the endpoint has none.
    pub fn authority(&self, default_port: u16) -> String {
        format!(
            "{}:{}",
            self.host_in_url(),
            self.port.unwrap_or(default_port)
        )
    }

    /// The same endpoint with `https://` and the given port; without its path for OTLP/gRPC,
    /// whose endpoints take none.
    pub fn https_url(&self, port: u16, protocol: Option<Protocol>) -> String {
        let path = if protocol == Some(Protocol::Grpc) {
            ""
        } else {
            self.path.as_str()
        };
        format!("https://{}:{port}{path}", self.host_in_url())
    }

    /// How to fix the endpoint the SDKs get: `https://` with `port`, and, where the protocol is
    /// known and the URL is a base URL, the `otelpki config env` command that writes it.
    pub fn fix(&self, dir: &std::path::Path, port: u16, protocol: Option<Protocol>) -> String {
        let url = self.https_url(port, protocol);
        let mut fix = format!("set OTEL_EXPORTER_OTLP_ENDPOINT={url}");
        let protocol = protocol.or(match port {
            GRPC_PORT => Some(Protocol::Grpc),
            HTTP_PORT => Some(Protocol::Http),
            _ => None,
        });
        if let (Some(p), true) = (protocol, self.path.trim_matches('/').is_empty()) {
            fix.push_str(&format!(
                "\n{}   # writes the SDK env file with it",
                crate::report::command(
                    dir,
                    &[
                        "config",
                        "env",
                        "--endpoint",
                        &url,
                        "--protocol",
                        p.receiver_key()
                    ]
                )
            ));
        }
        fix
    }

    /// The protocol the endpoint's own shape implies: a `/v1/...` path is OTLP/HTTP.
    pub fn implied_protocol(&self) -> Option<Protocol> {
        let p = self.path.trim_end_matches('/');
        p.starts_with("/v1/").then_some(Protocol::Http)
    }

    /// The rustls/webpki server name of the host.
    pub fn server_name(&self) -> Result<ServerName<'static>, String> {
        ServerName::try_from(self.host.clone())
            .map_err(|_| format!("`{}` is not a valid host name or IP address", self.host))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Some(Scheme::Http) => f.write_str("http://")?,
            Some(Scheme::Https) => f.write_str("https://")?,
            None => {}
        }
        f.write_str(&self.host_in_url())?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.path)
    }
}

/// Parses an endpoint; the error names the value and shows a good one.
pub fn parse(value: &str) -> Result<Endpoint, String> {
    let example = "e.g. https://otel-collector.observability.svc:4317";
    let v = value.trim();
    if v.is_empty() {
        return Err(format!("the endpoint is empty; give a URL, {example}"));
    }
    let (scheme, rest) = match v.split_once("://") {
        Some((s, rest)) => match s.to_ascii_lowercase().as_str() {
            "https" => (Some(Scheme::Https), rest),
            "http" => (Some(Scheme::Http), rest),
            _ => {
                return Err(format!(
                    "`{v}`: OTLP endpoints use https:// (or http:// for no TLS), not `{s}://`; {example}"
                ));
            }
        },
        None => (None, v),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let path = tail.split(['?', '#']).next().unwrap_or("").to_string();
    if authority.contains('@') {
        return Err(format!(
            "`{v}` holds credentials before the host; OTLP takes them as headers, not in the URL"
        ));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((ip, after)) = bracketed.split_once(']') else {
            return Err(format!("`{v}`: `[` without a closing `]`"));
        };
        if ip.parse::<Ipv6Addr>().is_err() {
            return Err(format!("`{v}`: `{ip}` is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| {
                format!("`{v}`: expected `:PORT` after the IPv6 address, {example}")
            })?),
        };
        (ip.to_string(), port)
    } else {
        match authority.matches(':').count() {
            0 => (authority.to_string(), None),
            1 => {
                let (h, p) = authority.split_once(':').unwrap_or((authority, ""));
                (h.to_string(), Some(p))
            }
            _ => {
                return Err(format!(
                    "`{v}`: write an IPv6 address in brackets, e.g. https://[::1]:4317"
                ));
            }
        }
    };
    if host.is_empty() {
        return Err(format!("`{v}` has no host, {example}"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("`{v}`: `{p}` is not a port number (1 to 65535)")),
        },
    };
    let endpoint = Endpoint {
        scheme,
        host,
        port,
        path,
    };
    endpoint.server_name().map_err(|e| format!("`{v}`: {e}"))?;
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_write() {
        let e = parse("https://otel-collector.observability.svc:4317").unwrap();
        assert_eq!(e.scheme, Some(Scheme::Https));
        assert_eq!(e.host, "otel-collector.observability.svc");
        assert_eq!(e.port, Some(4317));
        assert_eq!(e.path, "");
        let e = parse("otel-collector:4317").unwrap();
        assert_eq!((e.scheme, e.port), (None, Some(4317)));
        let e = parse("HTTP://[::1]:4318/v1/traces?x=1").unwrap();
        assert_eq!(e.scheme, Some(Scheme::Http));
        assert_eq!(e.host, "::1");
        assert_eq!(e.path, "/v1/traces");
        assert_eq!(e.implied_protocol(), Some(Protocol::Http));
        assert_eq!(e.to_string(), "http://[::1]:4318/v1/traces");
        assert_eq!(e.https_url(4318, None), "https://[::1]:4318/v1/traces");
        assert_eq!(
            e.https_url(4317, Some(Protocol::Grpc)),
            "https://[::1]:4317"
        );
        let e = parse("https://10.0.0.5").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("10.0.0.5", None));
    }

    #[test]
    fn refuses_what_no_sdk_accepts() {
        for bad in [
            "",
            "grpc://otel:4317",
            "https://:4317",
            "https://otel:99999",
            "https://otel:0",
            "https://otel:abc",
            "::1:4317",
            "https://[::1",
            "https://[nope]:4317",
            "https://user:pw@otel:4318",
            "https://exa mple:4317",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.contains(bad.trim()) || bad.is_empty(), "{bad}: {err}");
        }
    }
}
