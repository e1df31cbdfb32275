//! ILP over HTTP, spoken by spate itself: one kept-alive HTTP/1.1 connection per worker,
//! `POST /write?precision=n` with a batch as the body, acknowledged by QuestDB's status.
//!
//! It covers the plain `http::` configuration strings (address, basic or token auth,
//! timeouts, protocol version). [`HttpConf::parse`] answers `None` for anything else
//! (TLS, TCP, options it does not know) and the caller uses questdb-rs instead.

use std::io::{self, BufRead, BufReader, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::buffer::{IlpBuffer, IlpVersion};

/// Options of the configuration string this writer honours; anything else sends the
/// configuration to questdb-rs.
const KNOWN_KEYS: &[&str] = &[
    "addr",
    "username",
    "password",
    "token",
    "request_timeout",
    "request_min_throughput",
    "retry_timeout",
    "protocol_version",
    "auto_flush",
    "auto_flush_rows",
    "auto_flush_bytes",
    "auto_flush_interval",
    "init_buf_size",
    "max_buf_size",
    "max_name_len",
];

/// A plain `http::` configuration, as this writer uses it.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConf {
    /// `host:port`.
    pub addr: String,
    /// The `Authorization` header value, if any.
    auth: Option<String>,
    /// Base time allowed per request (questdb-rs's `request_timeout`, default 10 s).
    pub request_timeout: Duration,
    /// Bytes per second added to the allowance for large bodies (default 100 KiB/s).
    pub min_throughput: u64,
    /// A fixed protocol version, or `None` to ask the server.
    pub protocol_version: Option<IlpVersion>,
}

impl std::fmt::Debug for HttpConf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConf")
            .field("addr", &self.addr)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("request_timeout", &self.request_timeout)
            .field("min_throughput", &self.min_throughput)
            .field("protocol_version", &self.protocol_version)
            .finish()
    }
}

impl HttpConf {
    /// The configuration, if it is a plain `http::` one this writer speaks; `None` when
    /// questdb-rs must carry it. Values are assumed checked by questdb-rs already (the
    /// consumer's configuration does), but a bad one is still an error here.
    pub fn parse(conf: &str) -> Option<Result<HttpConf, String>> {
        let parsed = questdb_confstr::parse_conf_str(conf).ok()?;
        if parsed.service() != "http" {
            return None;
        }
        let params = parsed.params();
        if params.keys().any(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return None;
        }
        Some(Self::from_params(|k| params.get(k).map(String::as_str)))
    }

    fn from_params<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<HttpConf, String> {
        let addr = get("addr").ok_or("missing addr")?;
        let addr = if addr.contains(':') {
            addr.to_owned()
        } else {
            format!("{addr}:9000")
        };
        let auth = match (get("username"), get("password"), get("token")) {
            (Some(u), Some(p), None) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )),
            (None, None, Some(t)) => Some(format!("Bearer {t}")),
            (None, None, None) => None,
            _ => return Err("set username and password together, or token alone".into()),
        };
        let millis = |key: &str, default: u64| -> Result<u64, String> {
            get(key).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| format!("{key}: {v:?} is not a number"))
            })
        };
        let protocol_version = match get("protocol_version") {
            None | Some("auto") => None,
            Some("1") => Some(IlpVersion::V1),
            Some("2") => Some(IlpVersion::V2),
            Some(other) => {
                return Err(format!(
                    "protocol_version {other:?}: spate's writer speaks 1 and 2"
                ));
            }
        };
        Ok(HttpConf {
            addr,
            auth,
            request_timeout: Duration::from_millis(millis("request_timeout", 10_000)?.max(1)),
            min_throughput: millis("request_min_throughput", 102_400)?,
            protocol_version,
        })
    }

    /// This configuration with the `Authorization` header value `auth` (credentials
    /// given outside the configuration string).
    pub fn with_auth(mut self, auth: Option<&crate::security::Secret>) -> Self {
        if let Some(auth) = auth {
            self.auth = Some(auth.expose().to_owned());
        }
        self
    }

    /// The time allowed for a request carrying `body` bytes.
    fn allowance(&self, body: usize) -> Duration {
        let extra = match self.min_throughput {
            0 => Duration::ZERO,
            t => Duration::from_secs_f64(body as f64 / t as f64),
        };
        self.request_timeout + extra
    }
}

/// Why a request failed, sorted for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// No answer: connection refused, reset, timed out. Try again later.
    #[error("{0}")]
    Io(String),
    /// QuestDB refused the rows themselves (400, 413): retrying them cannot succeed.
    #[error("QuestDB refused the rows (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// Any other answer (auth, wrong endpoint, server error): try again later.
    #[error("QuestDB answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
}

/// An HTTP response, as much of it as ILP needs.
struct Response {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

/// One connection to QuestDB's HTTP port.
pub struct HttpWriter {
    conf: HttpConf,
    host_header: String,
    conn: Option<BufReader<TcpStream>>,
    version: IlpVersion,
}

impl std::fmt::Debug for HttpWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWriter")
            .field("addr", &self.conf.addr)
            .field("version", &self.version)
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl HttpWriter {
    /// Connects and settles the protocol version: the configured one, or the highest
    /// of 1 and 2 that `/settings` lists (1 when the server has no `/settings`).
    pub fn connect(conf: HttpConf) -> Result<HttpWriter, HttpError> {
        let mut w = HttpWriter {
            host_header: conf.addr.clone(),
            version: conf.protocol_version.unwrap_or(IlpVersion::V1),
            conf,
            conn: None,
        };
        w.open()?;
        if w.conf.protocol_version.is_none() {
            w.version = w.negotiate()?;
        }
        Ok(w)
    }

    pub fn version(&self) -> IlpVersion {
        self.version
    }

    /// A buffer for this connection's protocol version.
    pub fn new_buffer(&self) -> IlpBuffer {
        IlpBuffer::new(self.version)
    }

    fn open(&mut self) -> Result<(), HttpError> {
        let io = |e: io::Error| HttpError::Io(format!("connect to {}: {e}", self.conf.addr));
        let mut last = None;
        let addrs = self.conf.addr.to_socket_addrs().map_err(io)?;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.conf.request_timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(io)?;
                    self.conn = Some(BufReader::with_capacity(16 * 1024, stream));
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(io(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "no address")
        })))
    }

    fn negotiate(&mut self) -> Result<IlpVersion, HttpError> {
        let resp = self.request("GET", "/settings", &[])?;
        match resp.status {
            404 => Ok(IlpVersion::V1),
            200..=299 => {
                let json: serde_json::Value = serde_json::from_slice(&resp.body)
                    .map_err(|e| HttpError::Io(format!("/settings is not JSON: {e}")))?;
                let versions = json
                    .get("config")
                    .and_then(|c| c.get("line.proto.support.versions"))
                    .and_then(|v| v.as_array());
                let Some(versions) = versions else {
                    return Ok(IlpVersion::V1);
                };
                let has = |n: u64| versions.iter().any(|v| v.as_u64() == Some(n));
                if has(2) {
                    Ok(IlpVersion::V2)
                } else if has(1) {
                    Ok(IlpVersion::V1)
                } else {
                    Err(HttpError::Status {
                        status: resp.status,
                        message: format!(
                            "server supports ILP versions {versions:?}, spate writes 1 and 2"
                        ),
                    })
                }
            }
            status => Err(HttpError::Status {
                status,
                message: format!("/settings: {}", body_text(&resp.body)),
            }),
        }
    }

    /// Sends the rows of `buf` and waits for QuestDB's acknowledgement.
    pub fn flush(&mut self, buf: &IlpBuffer) -> Result<(), HttpError> {
        let resp = self.request("POST", "/write?precision=n", buf.as_bytes())?;
        match resp.status {
            200..=299 => Ok(()),
            status @ (400 | 413) => Err(HttpError::Rejected {
                status,
                message: error_message(&resp.body),
            }),
            status => Err(HttpError::Status {
                status,
                message: error_message(&resp.body),
            }),
        }
    }

    /// One request. A kept-alive connection the server closed meanwhile fails before
    /// any answer arrives; that request is sent once more on a fresh connection (a
    /// replay is harmless: the table deduplicates).
    fn request(&mut self, method: &str, target: &str, body: &[u8]) -> Result<Response, HttpError> {
        let reused = self.conn.is_some();
        if !reused {
            self.open()?;
        }
        match self.exchange(method, target, body) {
            Ok(resp) => Ok(resp),
            Err(Exchange::NoAnswer(_)) if reused => {
                self.conn = None;
                self.open()?;
                self.exchange(method, target, body)
                    .map_err(|e| self.fail(e))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn fail(&mut self, e: Exchange) -> HttpError {
        self.conn = None;
        let (Exchange::NoAnswer(e) | Exchange::Broken(e)) = e;
        HttpError::Io(format!("HTTP request to {}: {e}", self.conf.addr))
    }

    fn exchange(&mut self, method: &str, target: &str, body: &[u8]) -> Result<Response, Exchange> {
        let deadline = Instant::now() + self.conf.allowance(body.len());
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: spate\r\n",
            self.host_header
        );
        if method == "POST" {
            head.push_str("Content-Type: text/plain; charset=utf-8\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if let Some(auth) = &self.conf.auth {
            head.push_str(&format!("Authorization: {auth}\r\n"));
        }
        head.push_str("\r\n");
        let conn = self.conn.as_mut().expect("connection opened");
        let stream = conn.get_mut();
        let timeout = remaining(deadline).map_err(Exchange::NoAnswer)?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(Exchange::NoAnswer)?;
        write_all_vectored(
            stream,
            &mut [IoSlice::new(head.as_bytes()), IoSlice::new(body)],
        )
        .map_err(Exchange::NoAnswer)?;
        let resp = read_response(conn, deadline)?;
        if resp.close {
            self.conn = None;
        }
        Ok(resp)
    }
}

/// How an exchange failed: before any byte of an answer (`NoAnswer`), or during it.
enum Exchange {
    NoAnswer(io::Error),
    Broken(io::Error),
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out"))
    } else {
        Ok(left)
    }
}

fn write_all_vectored(stream: &mut TcpStream, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match stream.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The longest header block accepted from the server.
const MAX_HEAD: usize = 64 * 1024;
/// The longest error body kept (QuestDB's are a few hundred bytes).
const MAX_BODY: usize = 1024 * 1024;

fn read_response(conn: &mut BufReader<TcpStream>, deadline: Instant) -> Result<Response, Exchange> {
    let mut line = Vec::with_capacity(128);
    let set_timeout = |conn: &mut BufReader<TcpStream>| -> io::Result<()> {
        let left = remaining(deadline)?;
        conn.get_mut().set_read_timeout(Some(left))
    };
    set_timeout(conn).map_err(Exchange::NoAnswer)?;
    let n = conn
        .read_until(b'\n', &mut line)
        .map_err(Exchange::NoAnswer)?;
    if n == 0 {
        return Err(Exchange::NoAnswer(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before an answer",
        )));
    }
    let broken =
        |msg: &str| Exchange::Broken(io::Error::new(io::ErrorKind::InvalidData, msg.to_owned()));
    let status_line = std::str::from_utf8(&line).map_err(|_| broken("status line is not UTF-8"))?;
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| broken("malformed status line"))?;
    let mut close = version == "HTTP/1.0";
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut head_bytes = line.len();
    loop {
        line.clear();
        set_timeout(conn).map_err(Exchange::Broken)?;
        let n = conn
            .read_until(b'\n', &mut line)
            .map_err(Exchange::Broken)?;
        head_bytes += n;
        if n == 0 || head_bytes > MAX_HEAD {
            return Err(broken("truncated or oversized header block"));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if text.is_empty() {
            break;
        }
        let Some((name, value)) = text.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| broken("bad Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let mut body = Vec::new();
    let no_body = status == 204 || status == 304 || (100..200).contains(&status);
    if no_body {
    } else if chunked {
        read_chunked(conn, deadline, &mut body).map_err(Exchange::Broken)?;
    } else if let Some(len) = length {
        if len > MAX_BODY {
            return Err(broken("response body too large"));
        }
        body.resize(len, 0);
        set_timeout(conn).map_err(Exchange::Broken)?;
        conn.read_exact(&mut body).map_err(Exchange::Broken)?;
    } else {
        // No length: the body runs to the end of the connection.
        close = true;
        set_timeout(conn).map_err(Exchange::Broken)?;
        conn.take(MAX_BODY as u64)
            .read_to_end(&mut body)
            .map_err(Exchange::Broken)?;
    }
    Ok(Response {
        status,
        body,
        close,
    })
}

fn read_chunked(
    conn: &mut BufReader<TcpStream>,
    deadline: Instant,
    body: &mut Vec<u8>,
) -> io::Result<()> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_owned());
    let mut line = Vec::new();
    loop {
        line.clear();
        conn.get_mut()
            .set_read_timeout(Some(remaining(deadline)?))?;
        conn.read_until(b'\n', &mut line)?;
        let text = std::str::from_utf8(&line).map_err(|_| invalid("bad chunk size"))?;
        let size_text = text.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if conn.read_until(b'\n', &mut line)? == 0 || line.trim_ascii().is_empty() {
                    return Ok(());
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("response body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..])?;
        line.clear();
        conn.read_until(b'\n', &mut line)?;
    }
}

fn body_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.len() > 512 {
        let mut end = 512;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    } else {
        text.to_owned()
    }
}

/// QuestDB's JSON error (`{"code":…,"message":…,"line":…,"errorId":…}`) as one line.
fn error_message(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body_text(body);
    };
    let Some(message) = json.get("message").and_then(|m| m.as_str()) else {
        return body_text(body);
    };
    let mut out = message.to_owned();
    let mut details = Vec::new();
    for key in ["errorId", "code", "line"] {
        if let Some(v) = json.get(key) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            details.push(format!("{key}: {v}"));
        }
    }
    if !details.is_empty() {
        out.push_str(&format!(" [{}]", details.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(s: &str) -> Option<Result<HttpConf, String>> {
        HttpConf::parse(s)
    }

    #[test]
    fn plain_http_configurations_are_spoken_here() {
        let c = conf("http::addr=qdb:9100;").unwrap().unwrap();
        assert_eq!(c.addr, "qdb:9100");
        assert_eq!(c.auth, None);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(c.protocol_version, None);
        let c =
            conf("http::addr=qdb;username=u;password=p;protocol_version=1;request_timeout=500;")
                .unwrap()
                .unwrap();
        assert_eq!(c.addr, "qdb:9000");
        assert_eq!(c.auth.as_deref(), Some("Basic dTpw"));
        assert_eq!(c.protocol_version, Some(IlpVersion::V1));
        assert_eq!(c.request_timeout, Duration::from_millis(500));
        let c = conf("http::addr=qdb:9000;token=abc;").unwrap().unwrap();
        assert_eq!(c.auth.as_deref(), Some("Bearer abc"));
        assert!(
            !format!("{c:?}").contains("abc"),
            "the token is not printed"
        );
    }

    #[test]
    fn other_configurations_go_to_questdb_rs() {
        assert!(conf("https::addr=qdb:9000;").is_none());
        assert!(conf("tcp::addr=qdb:9009;").is_none());
        assert!(conf("http::addr=qdb:9000;tls_verify=unsafe_off;").is_none());
        assert!(conf("http::addr=qdb:9000;bind_interface=0.0.0.0;").is_none());
        assert!(conf("not a conf").is_none());
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(conf("http::addr=q:9000;username=u;").unwrap().is_err());
        assert!(
            conf("http::addr=q:9000;protocol_version=3;")
                .unwrap()
                .is_err()
        );
        assert!(
            conf("http::addr=q:9000;request_timeout=soon;")
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn large_bodies_get_more_time() {
        let c = conf("http::addr=q:9000;request_timeout=1000;request_min_throughput=1000;")
            .unwrap()
            .unwrap();
        assert_eq!(c.allowance(0), Duration::from_secs(1));
        assert_eq!(c.allowance(5000), Duration::from_secs(6));
    }

    #[test]
    fn questdb_json_errors_become_one_line() {
        let body = br#"{"code":"invalid","message":"failed to parse line protocol: invalid field format","line":3,"errorId":"a1-7"}"#;
        assert_eq!(
            error_message(body),
            "failed to parse line protocol: invalid field format [errorId: a1-7, code: invalid, line: 3]"
        );
        assert_eq!(error_message(b"plain text\n"), "plain text");
    }

    /// A scripted HTTP server on loopback: connection `i` answers the requests it reads
    /// with `script[i]` in turn, then closes. Returns the port and the accept count.
    fn scripted(script: Vec<Vec<&'static str>>) -> (u16, std::thread::JoinHandle<usize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let mut accepts = 0;
            for answers in script {
                let (stream, _) = listener.accept().unwrap();
                accepts += 1;
                let mut reader = BufReader::new(stream);
                for answer in answers {
                    // Read one request: headers, then Content-Length bytes.
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                        if line == "\r\n" || line.is_empty() {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    reader.get_mut().write_all(answer.as_bytes()).unwrap();
                }
            }
            accepts
        });
        (port, handle)
    }

    fn writer(port: u16) -> HttpWriter {
        let conf = HttpConf::parse(&format!(
            "http::addr=127.0.0.1:{port};protocol_version=2;request_timeout=5000;"
        ))
        .unwrap()
        .unwrap();
        HttpWriter::connect(conf).unwrap()
    }

    fn rows() -> IlpBuffer {
        let mut b = IlpBuffer::new(IlpVersion::V2);
        b.bytes_mut().extend_from_slice(b"t a=1i 1n\n");
        b.row_written();
        b
    }

    const NO_CONTENT: &str = "HTTP/1.1 204 No Content\r\n\r\n";

    #[test]
    fn requests_share_one_kept_alive_connection() {
        let (port, server) = scripted(vec![vec![NO_CONTENT, NO_CONTENT, NO_CONTENT]]);
        let mut w = writer(port);
        for _ in 0..3 {
            w.flush(&rows()).unwrap();
        }
        drop(w);
        assert_eq!(server.join().unwrap(), 1);
    }

    #[test]
    fn a_connection_closed_by_the_server_is_reopened_once() {
        let (port, server) = scripted(vec![vec![NO_CONTENT], vec![NO_CONTENT]]);
        let mut w = writer(port);
        w.flush(&rows()).unwrap();
        // The server closed the first connection without saying so.
        std::thread::sleep(Duration::from_millis(50));
        w.flush(&rows()).unwrap();
        assert_eq!(server.join().unwrap(), 2);
    }

    #[test]
    fn chunked_error_answers_are_read_whole() {
        let answer = "HTTP/1.1 400 Bad request\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n\
                      1e\r\n{\"code\":\"invalid\",\"message\":\"b\r\n\
                      d\r\nad\",\"line\":1}\r\n0\r\n\r\n";
        let (port, server) = scripted(vec![vec![answer, NO_CONTENT]]);
        let mut w = writer(port);
        assert_eq!(
            w.flush(&rows()),
            Err(HttpError::Rejected {
                status: 400,
                message: "bad [code: invalid, line: 1]".into()
            })
        );
        // The answer was consumed exactly: the connection still works.
        w.flush(&rows()).unwrap();
        drop(w);
        assert_eq!(server.join().unwrap(), 1);
    }

    #[test]
    fn answers_without_length_run_to_the_close() {
        let answer = "HTTP/1.1 503 Unavailable\r\nConnection: close\r\n\r\nbusy, try later";
        let (port, server) = scripted(vec![vec![answer], vec![NO_CONTENT]]);
        let mut w = writer(port);
        assert_eq!(
            w.flush(&rows()),
            Err(HttpError::Status {
                status: 503,
                message: "busy, try later".into()
            })
        );
        w.flush(&rows()).unwrap();
        assert_eq!(server.join().unwrap(), 2);
    }
}
