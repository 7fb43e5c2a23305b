//! What commands say: every command returns a [`Render`] (its result as text and as JSON) and
//! [`emit`] writes it, the one place that writes to standard output. Findings: what `verify`,
//! `check` and `probe` found wrong, each with the command that fixes it (the JSON shape is
//! documented in docs/checking.md); whether there was any decides the exit code
//! (docs/commands.md: 1). Imports nothing of otelpki's, so every module may use it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// The kind of a finding: a stable kebab-case name in the JSON (`code`) and in the text
/// (`problem [code]`), listed with its meaning in the table of finding codes of
/// docs/checking.md (a test holds the table to this list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    AuthRequired,
    CaExpired,
    CaExpiring,
    CaKeyMismatch,
    CaKeyMissing,
    CaKeyUnreadable,
    CaNotYetValid,
    CertMissing,
    CertUnreadable,
    ClientCertRejected,
    ClientCertRequired,
    ConnectFailed,
    ConnectionRefused,
    Expired,
    Expiring,
    GrpcWithoutH2,
    HandshakeFailed,
    HandshakeRefused,
    InterruptedWrite,
    InvalidCertificate,
    InvalidChain,
    KeyMismatch,
    KeyMissing,
    KeyUnreadable,
    LeafUnderOldCa,
    MissingPort,
    MissingScheme,
    NameMismatch,
    NoAnswer,
    NoCa,
    NoPurpose,
    NoServerCert,
    NotACa,
    NotALeaf,
    NotOtlpReceiver,
    NotTls,
    NotYetValid,
    PlaintextScheme,
    RotationInterrupted,
    RotationUnreadable,
    ServerCertRefused,
    StrayTemporary,
    Timeout,
    UnexpectedAnswer,
    UnknownCa,
    UnresolvedHost,
    UpstreamDown,
    WrongPort,
    WrongProtocol,
    WrongPurpose,
}

impl Code {
    /// Every code, in alphabetical order.
    pub const ALL: [Code; 50] = [
        Code::AuthRequired,
        Code::CaExpired,
        Code::CaExpiring,
        Code::CaKeyMismatch,
        Code::CaKeyMissing,
        Code::CaKeyUnreadable,
        Code::CaNotYetValid,
        Code::CertMissing,
        Code::CertUnreadable,
        Code::ClientCertRejected,
        Code::ClientCertRequired,
        Code::ConnectFailed,
        Code::ConnectionRefused,
        Code::Expired,
        Code::Expiring,
        Code::GrpcWithoutH2,
        Code::HandshakeFailed,
        Code::HandshakeRefused,
        Code::InterruptedWrite,
        Code::InvalidCertificate,
        Code::InvalidChain,
        Code::KeyMismatch,
        Code::KeyMissing,
        Code::KeyUnreadable,
        Code::LeafUnderOldCa,
        Code::MissingPort,
        Code::MissingScheme,
        Code::NameMismatch,
        Code::NoAnswer,
        Code::NoCa,
        Code::NoPurpose,
        Code::NoServerCert,
        Code::NotACa,
        Code::NotALeaf,
        Code::NotOtlpReceiver,
        Code::NotTls,
        Code::NotYetValid,
        Code::PlaintextScheme,
        Code::RotationInterrupted,
        Code::RotationUnreadable,
        Code::ServerCertRefused,
        Code::StrayTemporary,
        Code::Timeout,
        Code::UnexpectedAnswer,
        Code::UnknownCa,
        Code::UnresolvedHost,
        Code::UpstreamDown,
        Code::WrongPort,
        Code::WrongProtocol,
        Code::WrongPurpose,
    ];

    /// The code as it is printed and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::AuthRequired => "auth-required",
            Code::CaExpired => "ca-expired",
            Code::CaExpiring => "ca-expiring",
            Code::CaKeyMismatch => "ca-key-mismatch",
            Code::CaKeyMissing => "ca-key-missing",
            Code::CaKeyUnreadable => "ca-key-unreadable",
            Code::CaNotYetValid => "ca-not-yet-valid",
            Code::CertMissing => "cert-missing",
            Code::CertUnreadable => "cert-unreadable",
            Code::ClientCertRejected => "client-cert-rejected",
            Code::ClientCertRequired => "client-cert-required",
            Code::ConnectFailed => "connect-failed",
            Code::ConnectionRefused => "connection-refused",
            Code::Expired => "expired",
            Code::Expiring => "expiring",
            Code::GrpcWithoutH2 => "grpc-without-h2",
            Code::HandshakeFailed => "handshake-failed",
            Code::HandshakeRefused => "handshake-refused",
            Code::InterruptedWrite => "interrupted-write",
            Code::InvalidCertificate => "invalid-certificate",
            Code::InvalidChain => "invalid-chain",
            Code::KeyMismatch => "key-mismatch",
            Code::KeyMissing => "key-missing",
            Code::KeyUnreadable => "key-unreadable",
            Code::LeafUnderOldCa => "leaf-under-old-ca",
            Code::MissingPort => "missing-port",
            Code::MissingScheme => "missing-scheme",
            Code::NameMismatch => "name-mismatch",
            Code::NoAnswer => "no-answer",
            Code::NoCa => "no-ca",
            Code::NoPurpose => "no-purpose",
            Code::NoServerCert => "no-server-cert",
            Code::NotACa => "not-a-ca",
            Code::NotALeaf => "not-a-leaf",
            Code::NotOtlpReceiver => "not-otlp-receiver",
            Code::NotTls => "not-tls",
            Code::NotYetValid => "not-yet-valid",
            Code::PlaintextScheme => "plaintext-scheme",
            Code::RotationInterrupted => "rotation-interrupted",
            Code::RotationUnreadable => "rotation-unreadable",
            Code::ServerCertRefused => "server-cert-refused",
            Code::StrayTemporary => "stray-temporary",
            Code::Timeout => "timeout",
            Code::UnexpectedAnswer => "unexpected-answer",
            Code::UnknownCa => "unknown-ca",
            Code::UnresolvedHost => "unresolved-host",
            Code::UpstreamDown => "upstream-down",
            Code::WrongPort => "wrong-port",
            Code::WrongProtocol => "wrong-protocol",
            Code::WrongPurpose => "wrong-purpose",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem, in plain words, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The kind of problem, e.g. `name-mismatch` (docs/checking.md lists them).
    pub code: Code,
    /// The file or endpoint the finding is about.
    pub about: String,
    /// What is wrong.
    pub problem: String,
    /// What to do: the exact command where there is one; one step per line.
    pub fix: String,
}

impl Finding {
    pub fn new(
        code: Code,
        about: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            about: about.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Did the command find anything? `main` turns this into the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    Findings,
}

/// What every command returns: its result as text and as JSON. The command's module knows
/// both forms; [`emit`] is the one place that writes them to standard output.
pub trait Render {
    /// The output without `--json`.
    fn text(&self) -> String;

    /// The output with `--json`: one document and its newline ([`json`]). Commands without
    /// `--json` keep this default, their text.
    fn json(&self) -> Result<String> {
        Ok(self.text())
    }

    /// Whether a check found problems (exit 1).
    fn outcome(&self) -> Outcome {
        Outcome::Clean
    }

    /// What runs once the output is written: the `--exec` hook of `renew` and `rotate-ca
    /// switch` (it shares standard output), and the error of a command that did part of its
    /// work and said so.
    fn after(&self) -> Result<()> {
        Ok(())
    }
}

/// Writes `report` to standard output (as JSON with `json`), then runs its `after` step.
pub fn emit(report: &dyn Render, json: bool) -> Result<Outcome> {
    let out = if json { report.json()? } else { report.text() };
    {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
            .context("cannot write to standard output")?;
    }
    report.after()?;
    Ok(report.outcome())
}

/// `value` as pretty JSON with a final newline: the `--json` output of every command.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut doc = serde_json::to_string_pretty(value)?;
    doc.push('\n');
    Ok(doc)
}

/// The JSON document of `verify`, `check` and `probe`: `ok`, `findings`, then the command's
/// own fields.
#[derive(Serialize)]
struct Document<'a, T: Serialize> {
    ok: bool,
    findings: &'a [Finding],
    #[serde(flatten)]
    details: &'a T,
}

/// What `verify`, `check` and `probe` return: what was looked at (`text`, and `details` for
/// the JSON document) and the findings. As text: `text`, each finding, a one-line verdict.
pub struct Verdict<T> {
    pub details: T,
    pub text: String,
    pub findings: Vec<Finding>,
}

impl<T: Serialize> Render for Verdict<T> {
    fn text(&self) -> String {
        format!("{}{}", self.text, render(&self.findings))
    }

    fn json(&self) -> Result<String> {
        json(&Document {
            ok: self.findings.is_empty(),
            findings: &self.findings,
            details: &self.details,
        })
    }

    fn outcome(&self) -> Outcome {
        if self.findings.is_empty() {
            Outcome::Clean
        } else {
            Outcome::Findings
        }
    }
}

/// The findings as text, e.g.
///
/// ```text
/// problem [expired] certs/server.crt: expired on 2025-01-31, 3 days ago; every client refuses it
///     fix: otelpki issue server --san localhost,127.0.0.1,::1 --force
/// ```
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        s.push_str(&format!(
            "problem [{}] {}: {}\n",
            f.code, f.about, f.problem
        ));
        for (i, line) in f.fix.lines().enumerate() {
            let head = if i == 0 { "    fix:" } else { "        " };
            s.push_str(&format!("{head} {line}\n"));
        }
    }
    match findings.len() {
        0 => s.push_str("ok: no problems found\n"),
        1 => s.push_str("1 problem found\n"),
        n => s.push_str(&format!("{n} problems found\n")),
    }
    s
}

/// `otelpki [--dir DIR] ARGS...` as a user would type it: `--dir` only when DIR is not the
/// default `certs`, and every argument quoted for a POSIX shell where it needs to be.
pub fn command(dir: &Path, args: &[&str]) -> String {
    let mut words = vec!["otelpki".to_string()];
    if dir != Path::new("certs") {
        let shown = if dir.as_os_str().is_empty() {
            ".".into()
        } else {
            dir.display().to_string()
        };
        words.push("--dir".into());
        words.push(quote(&shown));
    }
    words.extend(args.iter().map(|a| quote(a)));
    words.join(" ")
}

/// Quotes a word for a POSIX shell if it holds anything but safe characters.
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/=@+%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_typed_as_a_user_would() {
        assert_eq!(
            command(Path::new("certs"), &["issue", "server", "--san", "a,::1"]),
            "otelpki issue server --san a,::1"
        );
        assert_eq!(
            command(
                Path::new("/etc/otel certs"),
                &["issue", "client", "--cn", "it's"]
            ),
            r"otelpki --dir '/etc/otel certs' issue client --cn 'it'\''s'"
        );
        assert_eq!(command(Path::new(""), &["check"]), "otelpki --dir . check");
    }

    #[test]
    fn text_names_code_subject_and_fix() {
        let text = render(&[Finding::new(
            Code::Expired,
            "a.crt",
            "it expired",
            "step 1\nstep 2",
        )]);
        assert_eq!(
            text,
            "problem [expired] a.crt: it expired\n    fix: step 1\n         step 2\n1 problem found\n"
        );
        assert_eq!(render(&[]), "ok: no problems found\n");
    }

    #[derive(Serialize)]
    struct Looked {
        file: &'static str,
    }

    #[test]
    fn a_verdict_is_its_text_then_the_findings_or_one_json_document() -> Result<()> {
        let found = Verdict {
            details: Looked { file: "a.crt" },
            text: "a.crt: looked at\n".into(),
            findings: vec![Finding::new(Code::Expired, "a.crt", "it expired", "renew")],
        };
        assert_eq!(
            found.text(),
            "a.crt: looked at\nproblem [expired] a.crt: it expired\n    fix: renew\n1 problem found\n"
        );
        assert_eq!(
            found.json()?,
            "{\n  \"ok\": false,\n  \"findings\": [\n    {\n      \"code\": \"expired\",\n      \
             \"about\": \"a.crt\",\n      \"problem\": \"it expired\",\n      \"fix\": \"renew\"\n    \
             }\n  ],\n  \"file\": \"a.crt\"\n}\n"
        );
        assert_eq!(found.outcome(), Outcome::Findings);
        let clean = Verdict {
            findings: Vec::new(),
            ..found
        };
        assert_eq!(clean.outcome(), Outcome::Clean);
        assert!(
            clean
                .json()?
                .starts_with("{\n  \"ok\": true,\n  \"findings\": [],\n")
        );
        Ok(())
    }
}
