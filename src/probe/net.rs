//! The network under `probe`: the name lookup and the connect, each bounded by `--timeout`, and
//! `Wire`, the TCP stream that notes the first bytes the server sent and how many whole TLS
//! records, so a diagnosis can tell a TLS server from a plaintext one.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::report::{Code, Finding};

/// At most this many resolved addresses are tried, each within the timeout.
const MAX_ADDRESSES: usize = 4;
/// How many of the server's first bytes are kept for a diagnosis.
const FIRST_BYTES: usize = 64;

/// The TCP stream, noting the first bytes the server sent and how many whole TLS records.
pub struct Wire {
    pub tcp: TcpStream,
    pub first: Vec<u8>,
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
    pub records: usize,
}

impl Wire {
    pub fn new(tcp: TcpStream) -> Wire {
        Wire {
            tcp,
            first: Vec::new(),
            header: [0; 5],
            header_len: 0,
            body_left: 0,
            records: 0,
        }
    }

    /// Counts complete TLS records (5-byte header with a 16-bit length, then the body).
    fn observe(&mut self, mut data: &[u8]) {
        let room = FIRST_BYTES.saturating_sub(self.first.len());
        self.first.extend_from_slice(&data[..room.min(data.len())]);
        while !data.is_empty() {
            if self.header_len < 5 {
                let take = (5 - self.header_len).min(data.len());
                self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
                self.header_len += take;
                data = &data[take..];
                if self.header_len == 5 {
                    self.body_left =
                        usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                }
            } else {
                let take = self.body_left.min(data.len());
                self.body_left -= take;
                data = &data[take..];
            }
            if self.header_len == 5 && self.body_left == 0 {
                self.records += 1;
                self.header_len = 0;
            }
        }
    }

    /// Whether the server's first bytes can start a TLS record (handshake or alert).
    pub fn looks_like_tls(&self) -> bool {
        matches!(self.first.first(), None | Some(0x15 | 0x16))
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.observe(&buf[..n]);
        Ok(n)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Whether an I/O error means the peer went away.
pub fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// Connects to the first address that answers; a failure is a finding.
pub fn connect(
    ep: &Endpoint,
    port: u16,
    timeout: Duration,
    about: &str,
) -> Result<(TcpStream, SocketAddr), Finding> {
    let target = format!("{}:{port}", ep.host_in_url());
    let host = ep.host.clone();
    let lookup = within(timeout, move || {
        (host.as_str(), port)
            .to_socket_addrs()
            .map(|a| a.take(MAX_ADDRESSES).collect::<Vec<SocketAddr>>())
    });
    let addrs: Vec<SocketAddr> = match lookup {
        Err(e) => {
            return Err(Finding::new(
                Code::ConnectFailed,
                about,
                format!("cannot start the name lookup of `{}`: {e}", ep.host),
                "try again when the system has resources to spare",
            ));
        }
        Ok(None) => {
            return Err(Finding::new(
                Code::Timeout,
                about,
                format!(
                    "cannot resolve `{}` within {} s (the name lookup did not answer)",
                    ep.host,
                    timeout.as_secs()
                ),
                "check the resolver (/etc/resolv.conf) and the host name, or probe from where \
                 the SDK runs",
            ));
        }
        Ok(Some(Ok(a))) => a,
        Ok(Some(Err(e))) => {
            return Err(Finding::new(
                Code::UnresolvedHost,
                about,
                format!("cannot resolve `{}`: {e}", ep.host),
                "check the host name (in Kubernetes: SERVICE.NAMESPACE.svc, resolvable only inside \
                 the cluster), or probe from where the SDK runs",
            ));
        }
    };
    let mut last: Option<io::Error> = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(tcp) => return Ok((tcp, *addr)),
            Err(e) => last = Some(e),
        }
    }
    let Some(e) = last else {
        return Err(Finding::new(
            Code::UnresolvedHost,
            about,
            format!("`{}` resolves to no address", ep.host),
            "check the host name",
        ));
    };
    let listen = "check that the Collector runs and that its receiver listens there (endpoint: \
                  0.0.0.0:4317 for gRPC, 0.0.0.0:4318 for HTTP), and that no firewall is in between";
    Err(match e.kind() {
        io::ErrorKind::ConnectionRefused => Finding::new(
            Code::ConnectionRefused,
            about,
            format!("nothing accepts connections on {target} (connection refused)"),
            listen,
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Finding::new(
            Code::Timeout,
            about,
            format!(
                "no answer from {target} within {} s (connect timed out)",
                timeout.as_secs()
            ),
            listen,
        ),
        _ => Finding::new(
            Code::ConnectFailed,
            about,
            format!("cannot connect to {target}: {e}"),
            listen,
        ),
    })
}

/// Runs `work` on its own thread and waits at most `timeout` for its answer: std's name
/// lookup (getaddrinfo) has no timeout of its own. A lookup that does not answer is left
/// behind on its thread, which ends with the process.
pub fn within<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> io::Result<Option<T>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("lookup".into())
        .spawn(move || {
            // The receiver is gone when the wait is over; the answer is then dropped.
            let _ = tx.send(work());
        })?;
    Ok(rx.recv_timeout(timeout).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup that never answers is given up after the timeout; one that answers is used.
    #[test]
    fn waits_are_bounded() {
        let (hold, blocked) = std::sync::mpsc::channel::<()>();
        let stuck = within(Duration::from_millis(50), move || blocked.recv().is_ok());
        assert_eq!(stuck.unwrap(), None);
        drop(hold); // lets the left-behind thread end
        let quick = within(Duration::from_secs(30), || 42);
        assert_eq!(quick.unwrap(), Some(42));
    }
}
