//! Lines of input as zero-copy slices of one growing buffer, with a bound on line length.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

const READ_CHUNK: usize = 64 * 1024;

pub struct LineReader<R> {
    reader: R,
    buf: BytesMut,
    max_line: usize,
    eof: bool,
    /// 1-based number of the last line returned.
    pub line_number: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("line {line} is longer than {max} bytes (raise --max-line-bytes)")]
    TooLong { line: u64, max: usize },
    #[error("cannot read input: {0}")]
    Io(#[from] std::io::Error),
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(reader: R, max_line: usize) -> Self {
        LineReader {
            reader,
            buf: BytesMut::with_capacity(READ_CHUNK),
            max_line,
            eof: false,
            line_number: 0,
        }
    }

    /// The next line without its `\n` or `\r\n`; None at the end of input. A last line without
    /// a newline still counts.
    pub async fn next_line(&mut self) -> Result<Option<Bytes>, LineError> {
        let mut searched = 0;
        loop {
            if let Some(at) = self.buf[searched..].iter().position(|&b| b == b'\n') {
                let end = searched + at;
                let mut line = self.buf.split_to(end + 1).freeze();
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                return self.counted(line).map(Some);
            }
            searched = self.buf.len();
            if self.buf.len() > self.max_line {
                return Err(LineError::TooLong {
                    line: self.line_number + 1,
                    max: self.max_line,
                });
            }
            if self.eof {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let line = self.buf.split().freeze();
                return self.counted(line).map(Some);
            }
            self.buf.reserve(READ_CHUNK);
            if self.reader.read_buf(&mut self.buf).await? == 0 {
                self.eof = true;
            }
        }
    }

    fn counted(&mut self, line: Bytes) -> Result<Bytes, LineError> {
        self.line_number += 1;
        if line.len() > self.max_line {
            return Err(LineError::TooLong {
                line: self.line_number,
                max: self.max_line,
            });
        }
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Result<Vec<Bytes>, LineError> {
        let mut reader = LineReader::new(input, max);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().await? {
            out.push(line);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn lines_split_on_newlines_with_crlf_and_a_last_unterminated_line() {
        let got = lines(b"a\r\nbb\n\nccc", 10).await.unwrap();
        assert_eq!(got, ["a", "bb", "", "ccc"]);
        assert!(lines(b"", 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn overlong_lines_are_refused_with_their_number() {
        let error = lines(b"ok\n0123456789abc\n", 10).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 2 is longer than 10 bytes (raise --max-line-bytes)"
        );
        // Also when the long line is the unterminated last one.
        assert!(lines(b"0123456789abc", 10).await.is_err());
    }

    #[tokio::test]
    async fn lines_longer_than_one_read_chunk_are_whole() {
        let long = vec![b'x'; READ_CHUNK * 2 + 5];
        let mut input = long.clone();
        input.push(b'\n');
        let got = lines(&input, READ_CHUNK * 3).await.unwrap();
        assert_eq!(got, [Bytes::from(long)]);
    }
}
