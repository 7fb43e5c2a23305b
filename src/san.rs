//! One `--san` value turned into a subjectAltName: an IPv4/IPv6 address, a DNS name
//! (a wildcard only as the whole leftmost label), or `uri:` / `email:` values.
//! Used directly as clap's value parser, so a bad value is refused before anything runs.

use std::fmt;
use std::net::IpAddr;

use rcgen::SanType;

/// A validated subjectAltName value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum San {
    Dns(String),
    Ip(IpAddr),
    Uri(String),
    Email(String),
}

impl San {
    pub fn to_rcgen(&self) -> anyhow::Result<SanType> {
        Ok(match self {
            San::Dns(name) => SanType::DnsName(name.as_str().try_into()?),
            San::Ip(ip) => SanType::IpAddress(*ip),
            San::Uri(uri) => SanType::URI(uri.as_str().try_into()?),
            San::Email(email) => SanType::Rfc822Name(email.as_str().try_into()?),
        })
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => f.write_str(name),
            San::Ip(ip) => write!(f, "{ip}"),
            San::Uri(uri) => write!(f, "uri:{uri}"),
            San::Email(email) => write!(f, "email:{email}"),
        }
    }
}

/// Parse one `--san` value. The error names the value and says what a good one looks like.
pub fn parse(value: &str) -> Result<San, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(
            "a SAN cannot be empty; give a DNS name such as otel-collector.example.com \
             or an IP address such as 10.0.0.5"
                .into(),
        );
    }
    if let Some(uri) = strip_prefix_ci(v, "uri:") {
        return parse_uri(uri).map(San::Uri);
    }
    if let Some(email) = strip_prefix_ci(v, "email:") {
        return parse_email(email).map(San::Email);
    }
    if let Some(ip) = strip_prefix_ci(v, "ip:") {
        return ip
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .map(San::Ip)
            .map_err(|_| format!("`{ip}` is not an IPv4 or IPv6 address"));
    }
    if let Some(name) = strip_prefix_ci(v, "dns:") {
        let bare = name.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
        if bare.unwrap_or(name).parse::<IpAddr>().is_ok() {
            return Err(format!(
                "`{name}` is an IP address, and dns: takes a DNS name (a certificate may not \
                 carry an IP address as a DNS name); write ip:{name} or just {name}"
            ));
        }
        return parse_dns(name).map(San::Dns);
    }
    let unbracketed = v.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
    if let Ok(ip) = unbracketed.unwrap_or(v).parse::<IpAddr>() {
        return Ok(San::Ip(ip));
    }
    if v.contains(':') {
        return Err(format!(
            "`{v}` is neither an IP address nor a DNS name; for a URI SAN write uri:{v}, \
             and give a host without a scheme or port"
        ));
    }
    parse_dns(v).map(San::Dns)
}

fn strip_prefix_ci<'a>(v: &'a str, prefix: &str) -> Option<&'a str> {
    let head = v.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &v[prefix.len()..])
}

/// A DNS name as RFC 1035/5280 and webpki accept it: letters, digits and hyphens in
/// labels of 1 to 63 characters, no hyphen at either end, 253 characters at most, and a
/// wildcard only as the whole leftmost label of a name with at least two more labels.
fn parse_dns(name: &str) -> Result<String, String> {
    let hint = "use a host name such as otel-collector.observability.svc";
    if name.is_empty() {
        return Err(format!("empty DNS name; {hint}"));
    }
    if name.len() > 253 {
        return Err(format!(
            "`{name}` is {} characters long; a DNS name has at most 253",
            name.len()
        ));
    }
    if name.ends_with('.') {
        let without = name.trim_end_matches('.');
        if without.is_empty() || without.ends_with('.') || without.contains("..") {
            return Err(format!(
                "`{name}` has an empty label (two dots in a row, or nothing but dots); {hint}"
            ));
        }
        return Err(format!(
            "`{name}` ends with a dot; write it without the trailing dot ({without})"
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        if label.is_empty() {
            return Err(format!(
                "`{name}` has an empty label (two dots in a row, or a leading dot); {hint}"
            ));
        }
        if *label == "*" {
            if i != 0 {
                return Err(format!(
                    "`{name}`: a wildcard may only be the whole leftmost label, as in *.example.com"
                ));
            }
            if labels.len() < 3 {
                return Err(format!(
                    "`{name}`: a wildcard needs at least two labels after it, as in *.example.com"
                ));
            }
            continue;
        }
        if label.contains('*') {
            return Err(format!(
                "`{name}`: a wildcard may only be the whole leftmost label, as in *.example.com"
            ));
        }
        if label.len() > 63 {
            return Err(format!(
                "`{name}`: the label `{label}` is {} characters long; a DNS label has at most 63",
                label.len()
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "`{name}` contains {bad:?}; a DNS name may only hold letters, digits, '-' and '.'; {hint}"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "`{name}`: the label `{label}` starts or ends with '-', which DNS does not allow"
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!(
            "`{name}` looks like an IP address but is not a valid one; {hint}, or a full IPv4/IPv6 address"
        ));
    }
    Ok(name.to_string())
}

/// An absolute URI: a scheme (RFC 3986 §3.1) followed by ':' and a non-empty rest, ASCII,
/// without spaces.
fn parse_uri(uri: &str) -> Result<String, String> {
    let example = "as in uri:spiffe://example.org/otel-collector";
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(format!(
            "`uri:{uri}` has no scheme; a URI SAN must be absolute, {example}"
        ));
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(format!(
            "`uri:{uri}` has no valid scheme; a URI SAN must be absolute, {example}"
        ));
    }
    if rest.is_empty() {
        return Err(format!("`uri:{uri}` is empty after the scheme, {example}"));
    }
    if let Some(bad) = uri.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "`uri:{uri}` contains {bad:?}; percent-encode it, {example}"
        ));
    }
    Ok(uri.to_string())
}

fn parse_email(email: &str) -> Result<String, String> {
    let example = "as in email:team@example.com";
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(format!("`email:{email}` has no '@', {example}"));
    };
    if local.is_empty() || local.chars().any(|c| !c.is_ascii_graphic() || c == '@') {
        return Err(format!(
            "`email:{email}` has an invalid local part, {example}"
        ));
    }
    parse_dns(domain).map_err(|e| format!("`email:{email}`: {e}"))?;
    Ok(email.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_kinds_of_san() {
        assert_eq!(parse("localhost"), Ok(San::Dns("localhost".into())));
        assert_eq!(
            parse("127.0.0.1"),
            Ok(San::Ip("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(parse("::1"), Ok(San::Ip("::1".parse().unwrap())));
        assert_eq!(parse("[fe80::1]"), Ok(San::Ip("fe80::1".parse().unwrap())));
        assert_eq!(parse("*.example.com"), Ok(San::Dns("*.example.com".into())));
        assert_eq!(
            parse("otel-collector.observability.svc"),
            Ok(San::Dns("otel-collector.observability.svc".into()))
        );
        assert_eq!(
            parse("uri:spiffe://example.org/app"),
            Ok(San::Uri("spiffe://example.org/app".into()))
        );
        assert_eq!(
            parse("email:ops@example.com"),
            Ok(San::Email("ops@example.com".into()))
        );
    }

    #[test]
    fn refuses_malformed_values_naming_them() {
        let long = format!("{}.example.com", "a".repeat(64));
        for bad in [
            "",
            "  ",
            "exa mple.com",
            "*.*.example.com",
            "foo..bar",
            "-bad.example.com",
            "bad-.example.com",
            long.as_str(),
            "uri:",
            "uri:no-scheme",
            "uri:1http://x",
            "email:nobody",
            "foo.*.com",
            "*.com",
            "under_score.example",
            "256.1.1.1",
            "https://otel:4317",
            "example.com.",
        ] {
            let err = parse(bad).expect_err(bad);
            let shown = bad
                .trim()
                .trim_start_matches("uri:")
                .trim_start_matches("email:");
            assert!(
                err.contains(shown) || bad.trim().is_empty(),
                "{bad:?} -> {err}"
            );
        }
    }
}
