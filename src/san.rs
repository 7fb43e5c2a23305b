//! One `--san` value turned into a subjectAltName: an IPv4/IPv6 address, a DNS name
//! (a wildcard only as the whole leftmost label), or `uri:` / `email:` values.
//! The value parser of `--san` in `cli.rs`, so a bad value is refused before anything runs.

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
        // brackets only as a pair, as in a URL: `ip:[::1]`
        let bare = ip.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
        return bare
            .unwrap_or(ip)
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

    #[test]
    fn prefixes_choose_the_kind_case_insensitively() {
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(parse("ip:[::1]"), Ok(San::Ip(v6)));
        assert_eq!(parse("IP:::1"), Ok(San::Ip(v6)));
        assert_eq!(
            parse("ip:10.0.0.5"),
            Ok(San::Ip("10.0.0.5".parse().unwrap()))
        );
        assert_eq!(
            parse("  ip:10.0.0.5  "),
            Ok(San::Ip("10.0.0.5".parse().unwrap()))
        );
        assert_eq!(parse("DNS:localhost"), Ok(San::Dns("localhost".into())));
        assert_eq!(parse("dns:a.example"), Ok(San::Dns("a.example".into())));
        assert_eq!(
            parse("URI:spiffe://x/y"),
            Ok(San::Uri("spiffe://x/y".into()))
        );
        assert_eq!(
            parse("Email:a@b.example"),
            Ok(San::Email("a@b.example".into()))
        );
        // a prefix alone, or a value shorter than a prefix, is not mistaken for one
        assert_eq!(parse("ip"), Ok(San::Dns("ip".into())));
        assert_eq!(parse("dn"), Ok(San::Dns("dn".into())));
        // ip: takes addresses only, naming the value
        for bad in [
            "ip:",
            "ip:example.com",
            "ip:[10.0.0.1",
            "ip:10.0.0.1]",
            "ip:1.2.3",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(
                err.contains("is not an IPv4 or IPv6 address"),
                "{bad}: {err}"
            );
            assert!(err.contains(&format!("`{}`", &bad[3..])), "{bad}: {err}");
        }
        // brackets belong to addresses, not to names
        assert!(parse("ip:[a.example]").is_err());
        assert!(parse("[a.example]").is_err());
        // dns: refuses an address, bracketed or not, and says to write ip:
        for bad in ["dns:10.0.0.1", "dns:[::1]", "dns:::1"] {
            let err = parse(bad).expect_err(bad);
            assert!(
                err.contains("is an IP address, and dns: takes a DNS name"),
                "{bad}: {err}"
            );
            assert!(
                err.contains(&format!("write ip:{}", &bad[4..])),
                "{bad}: {err}"
            );
        }
        // dns: still checks the name
        assert!(parse("dns:exa mple.com").is_err());
        assert!(parse("dns:").expect_err("dns:").contains("empty DNS name"));
        // a colon that is neither an address nor a prefix
        let err = parse("otel:4317").expect_err("host:port");
        assert!(err.contains("write uri:otel:4317"), "{err}");
    }

    /// A name of `len` characters made of 63-character labels (and a shorter last one).
    fn name_of(len: usize) -> String {
        let mut name = String::new();
        while name.len() < len {
            if !name.is_empty() {
                name.push('.');
            }
            let room = (len - name.len()).min(63);
            name.push_str(&"a".repeat(room));
        }
        assert_eq!(name.len(), len);
        name
    }

    #[test]
    fn length_limits_are_exact() {
        // 253 characters is the longest name; 254 is refused with its length
        let max = name_of(253);
        assert_eq!(parse(&max), Ok(San::Dns(max.clone())));
        let over = name_of(254);
        let err = parse(&over).expect_err("254");
        assert!(
            err.contains("is 254 characters long; a DNS name has at most 253"),
            "{err}"
        );
        // labels: 63 is the longest; 64 is refused naming the label and its length
        let label63 = format!("{}.example.com", "b".repeat(63));
        assert_eq!(parse(&label63), Ok(San::Dns(label63.clone())));
        let label64 = format!("{}.example.com", "b".repeat(64));
        let err = parse(&label64).expect_err("64");
        assert!(
            err.contains("is 64 characters long; a DNS label has at most 63"),
            "{err}"
        );
        // the limits hold for the domain of an email address too
        let email = format!("ops@{}", "c".repeat(64));
        assert!(parse(&format!("email:{email}")).is_err());
    }

    #[test]
    fn dns_names_edges() {
        // a wildcard needs two labels after it: *.a.b yes, *.b no
        assert_eq!(parse("*.a.example"), Ok(San::Dns("*.a.example".into())));
        assert!(
            parse("*.example")
                .unwrap_err()
                .contains("at least two labels")
        );
        assert!(
            parse("a.*.example")
                .unwrap_err()
                .contains("whole leftmost label")
        );
        assert!(
            parse("a*.b.example")
                .unwrap_err()
                .contains("whole leftmost label")
        );
        // hyphens inside a label are fine, at either end not
        assert_eq!(parse("a-b.example"), Ok(San::Dns("a-b.example".into())));
        assert!(
            parse("a-.example")
                .unwrap_err()
                .contains("starts or ends with '-'")
        );
        assert!(
            parse("-a.example")
                .unwrap_err()
                .contains("starts or ends with '-'")
        );
        // an all-digit last label looks like a broken address; digits elsewhere are fine
        assert!(
            parse("1.2.3")
                .unwrap_err()
                .contains("looks like an IP address")
        );
        assert_eq!(parse("1a.example"), Ok(San::Dns("1a.example".into())));
        assert_eq!(parse("a.b2"), Ok(San::Dns("a.b2".into())));
        // trailing dots
        assert!(
            parse("a.example.")
                .unwrap_err()
                .contains("write it without the trailing dot (a.example)")
        );
        assert!(parse("a..example.").unwrap_err().contains("empty label"));
        assert!(
            parse("a.example..")
                .unwrap_err()
                .contains("without the trailing dot (a.example)")
        );
        assert!(parse(".").unwrap_err().contains("empty label"));
        assert!(parse(".a.example").unwrap_err().contains("empty label"));
        assert!(parse("a_b.example").unwrap_err().contains("'_'"));
    }

    #[test]
    fn email_local_parts_and_domains() {
        assert_eq!(
            parse("email:first.last+otel@example.com"),
            Ok(San::Email("first.last+otel@example.com".into()))
        );
        for bad in [
            "email:@example.com",
            "email:a b@example.com",
            "email:a@b@example.com",
            "email:\u{e9}@example.com",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.contains("has an invalid local part"), "{bad}: {err}");
        }
        assert!(parse("email:ops").unwrap_err().contains("has no '@'"));
        let err = parse("email:ops@exa mple.com").unwrap_err();
        assert!(err.starts_with("`email:ops@exa mple.com`: "), "{err}");
        assert!(parse("email:ops@").is_err());
    }

    #[test]
    fn uris_edges() {
        assert_eq!(parse("uri:a+b-c.d:x"), Ok(San::Uri("a+b-c.d:x".into())));
        assert!(parse("uri::x").unwrap_err().contains("no valid scheme"));
        assert!(parse("uri:a_b:x").unwrap_err().contains("no valid scheme"));
        assert!(
            parse("uri:spiffe:")
                .unwrap_err()
                .contains("empty after the scheme")
        );
        assert!(
            parse("uri:spiffe://a b")
                .unwrap_err()
                .contains("percent-encode")
        );
        assert!(
            parse("uri:spiffe://a\u{e9}")
                .unwrap_err()
                .contains("percent-encode")
        );
    }

    #[test]
    fn display_round_trips_through_parse() {
        for v in [
            "localhost",
            "10.0.0.5",
            "::1",
            "uri:spiffe://example.org/app",
            "email:ops@example.com",
        ] {
            let san = parse(v).unwrap();
            assert_eq!(san.to_string(), v);
            assert_eq!(parse(&san.to_string()), Ok(san.clone()));
            // and rcgen takes each kind as that kind
            let kind = match san.to_rcgen().unwrap() {
                SanType::DnsName(n) => format!("dns {}", n.as_str()),
                SanType::IpAddress(ip) => format!("ip {ip}"),
                SanType::URI(u) => format!("uri {}", u.as_str()),
                SanType::Rfc822Name(e) => format!("email {}", e.as_str()),
                other => format!("{other:?}"),
            };
            let want = match &san {
                San::Dns(n) => format!("dns {n}"),
                San::Ip(ip) => format!("ip {ip}"),
                San::Uri(u) => format!("uri {u}"),
                San::Email(e) => format!("email {e}"),
            };
            assert_eq!(kind, want);
        }
    }
}
