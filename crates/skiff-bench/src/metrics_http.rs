//! A one-shot plain-HTTP GET for the broker's Prometheus endpoint. Metrics endpoints are
//! plain HTTP on a private port, so a full HTTP client (and its TLS stack) is not worth its
//! build time here.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A scrape larger than this is cut off: the counters we read come from one broker.
const MAX_RESPONSE_BYTES: u64 = 32 << 20;

/// `http://host:port/path` split for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsUrl {
    pub authority: String,
    pub path: String,
}

/// Accepts `http://host:port/path`, `http://host:port` and `host:port` (path `/metrics`).
pub fn parse_metrics_url(url: &str) -> Result<MetricsUrl, String> {
    let url = url.trim();
    if url.starts_with("https://") {
        return Err(format!(
            "{url:?}: https is not supported; give the broker's plain http metrics address"
        ));
    }
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/metrics"),
    };
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err(format!(
            "{url:?} is not a URL like http://127.0.0.1:9644/metrics"
        ));
    }
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok(MetricsUrl {
        authority,
        path: path.to_owned(),
    })
}

/// Fetches the text at `url`, or says why not.
pub async fn fetch_text(url: &str, timeout: Duration) -> Result<String, String> {
    let target = parse_metrics_url(url)?;
    tokio::time::timeout(timeout, fetch(&target))
        .await
        .map_err(|_| format!("{url} did not answer within {}s", timeout.as_secs_f64()))?
        .map_err(|e| format!("{url}: {e}"))
}

async fn fetch(target: &MetricsUrl) -> Result<String, String> {
    let mut stream = TcpStream::connect(&target.authority)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    // HTTP/1.0 so the server closes after the body and does not chunk it.
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("cannot read the response: {e}"))?;
    parse_response(&response)
}

/// The body of a 200 response, de-chunked if the server chunked it anyway.
pub fn parse_response(response: &[u8]) -> Result<String, String> {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the response has no end of headers")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return Err(format!("answered {status_line:?}"));
    }
    let chunked = lines.any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line has no end")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("a chunk is cut short")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_default_to_the_metrics_path_and_port_80() {
        assert_eq!(
            parse_metrics_url("http://127.0.0.1:9644/metrics").unwrap(),
            MetricsUrl {
                authority: "127.0.0.1:9644".into(),
                path: "/metrics".into()
            }
        );
        assert_eq!(
            parse_metrics_url("localhost:9644").unwrap().path,
            "/metrics"
        );
        assert_eq!(
            parse_metrics_url("http://broker/m").unwrap().authority,
            "broker:80"
        );
        assert!(
            parse_metrics_url("https://x/metrics")
                .unwrap_err()
                .contains("https")
        );
        assert!(parse_metrics_url("http:///metrics").is_err());
    }

    #[test]
    fn responses_give_their_body_or_a_reason() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\na 1\nb 2\n";
        assert_eq!(parse_response(ok).unwrap(), "a 1\nb 2\n");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\na 1\n\r\n4\r\nb 2\n\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), "a 1\nb 2\n");
        let missing = b"HTTP/1.1 404 Not Found\r\n\r\n";
        assert!(parse_response(missing).unwrap_err().contains("404"));
        assert!(parse_response(b"garbage").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
    }
}
