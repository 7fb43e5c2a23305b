//! The domain types that every layer shares, at the bottom of the house: it imports nothing of
//! otelpki's. Roles and purposes of certificates, OTLP protocols, the `--expires-within`
//! window, and dates as people read them. The CLI layer (`cli.rs`) parses flags into these
//! through their `FromStr` and `NAMES`; nothing here knows the argument parser.
//!
//! ```
//! use otelpki::model::{Protocol, Purpose, Role, parse_window};
//!
//! let purpose: Purpose = "client".parse()?;
//! assert_eq!(purpose.role(), Role::Client);
//! assert_eq!(purpose.eku(), "clientAuth");
//! assert_eq!(parse_window("2w")?.duration, time::Duration::days(14));
//! assert!("smtp".parse::<Protocol>().is_err());
//! # Ok::<(), String>(())
//! ```

use std::str::FromStr;

use serde::Serialize;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

/// What a certificate is: the CA, a server (the Collector) or a client (an application).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Ca,
    Server,
    Client,
}

/// What a leaf certificate is for: its extKeyUsage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// TLS server authentication (serverAuth), e.g. the Collector's receiver
    Server,
    /// TLS client authentication (clientAuth), e.g. an application sending telemetry
    Client,
}

impl Purpose {
    /// The names on the command line, with what each means.
    pub const NAMES: [(&'static str, &'static str); 2] = [
        (
            "server",
            "TLS server authentication (serverAuth), e.g. the Collector's receiver",
        ),
        (
            "client",
            "TLS client authentication (clientAuth), e.g. an application sending telemetry",
        ),
    ];

    /// The extKeyUsage it stands for, as X.509 names it.
    pub fn eku(self) -> &'static str {
        match self {
            Purpose::Server => "serverAuth",
            Purpose::Client => "clientAuth",
        }
    }

    /// The role of a certificate with this purpose.
    pub fn role(self) -> Role {
        match self {
            Purpose::Server => Role::Server,
            Purpose::Client => Role::Client,
        }
    }
}

impl FromStr for Purpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "server" => Ok(Purpose::Server),
            "client" => Ok(Purpose::Client),
            _ => Err(format!("`{s}` is not a purpose; use server or client")),
        }
    }
}

/// OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OTLP/gRPC, port 4317
    Grpc,
    /// OTLP/HTTP with protobuf, port 4318
    Http,
}

impl Protocol {
    /// The names on the command line, with what each means.
    pub const NAMES: [(&'static str, &'static str); 2] = [
        ("grpc", "OTLP/gRPC, port 4317"),
        ("http", "OTLP/HTTP with protobuf, port 4318"),
    ];

    /// The IANA ports of OTLP.
    pub fn port(self) -> u16 {
        match self {
            Protocol::Grpc => 4317,
            Protocol::Http => 4318,
        }
    }

    /// The key under the OTLP receiver's `protocols:`.
    pub fn receiver_key(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }

    /// The value of OTEL_EXPORTER_OTLP_PROTOCOL.
    pub fn otel_name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http/protobuf",
        }
    }
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "grpc" => Ok(Protocol::Grpc),
            "http" => Ok(Protocol::Http),
            _ => Err(format!("`{s}` is not an OTLP protocol; use grpc or http")),
        }
    }
}

/// The `--expires-within` window, as given (`30d`) and as a duration.
#[derive(Clone, Debug)]
pub struct Window {
    pub text: String,
    pub duration: Duration,
}

/// Parses `30d`, `12h`, `2w`, `90m`, `45s` or `0`.
pub fn parse_window(value: &str) -> Result<Window, String> {
    let v = value.trim();
    let bad =
        || format!("`{value}` is not a duration; write a number and a unit, e.g. 30d, 12h or 2w");
    if v == "0" {
        return Ok(Window {
            text: "0".into(),
            duration: Duration::ZERO,
        });
    }
    let split = v.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = v.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    // Beyond 100 years nothing is "expiring soon"; the cap keeps the arithmetic in range.
    let secs = n
        .checked_mul(per)
        .filter(|s| *s <= 100 * 366 * 86_400)
        .ok_or_else(|| format!("`{value}` is too long a window; at most 100 years"))?;
    Ok(Window {
        text: v.to_string(),
        duration: Duration::seconds(secs),
    })
}

/// A date as people read it: 2027-11-25.
pub fn date(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for (name, _) in Purpose::NAMES {
            assert!(name.parse::<Purpose>().is_ok(), "{name}");
        }
        assert_eq!("server".parse::<Purpose>(), Ok(Purpose::Server));
        assert_eq!(
            "client".parse::<Purpose>().map(Purpose::eku),
            Ok("clientAuth")
        );
        assert!("Server".parse::<Purpose>().is_err());
        assert_eq!("grpc".parse::<Protocol>(), Ok(Protocol::Grpc));
        assert_eq!("http".parse::<Protocol>().map(Protocol::port), Ok(4318));
        assert!("https".parse::<Protocol>().is_err());
        for (name, _) in Protocol::NAMES {
            assert!(name.parse::<Protocol>().is_ok());
        }
    }

    #[test]
    fn dates_are_days() {
        assert_eq!(
            date(time::macros::datetime!(2027-11-25 23:59 UTC)),
            "2027-11-25"
        );
    }

    #[test]
    fn windows() {
        assert_eq!(parse_window("30d").unwrap().duration, Duration::days(30));
        assert_eq!(parse_window("12h").unwrap().duration, Duration::hours(12));
        assert_eq!(parse_window("2w").unwrap().duration, Duration::days(14));
        assert_eq!(parse_window("0").unwrap().duration, Duration::ZERO);
        for bad in [
            "",
            "d",
            "30",
            "30x",
            "-1d",
            "1.5d",
            "99999999999999999d",
            "40000w",
        ] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
