//! Line numbers of CSV records, counted as the bytes pass.

use tokio::io::AsyncRead;

/// Most line starts [`Lines`] keeps ahead of the reader (a safeguard: it
/// keeps only where records may start, a few per buffered kilobyte).
const MAX_LINE_STARTS: usize = 1 << 16;

/// Counts lines as the bytes pass, so that a row's line number is right
/// whatever the line ends: csv-async reports a record's position as where
/// its reading began, which for CRLF files (and after blank lines) is the
/// previous line's end. Keeps where each non-blank line starts until the
/// reader has moved past it.
pub(super) struct Lines<R> {
    inner: R,
    offset: u64,
    line: u64,
    at_line_start: bool,
    prev: u8,
    /// Inside a quoted cell: a line that starts there is not a record's.
    quoted: bool,
    starts: std::collections::VecDeque<(u64, u64)>,
}

impl<R> Lines<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            line: 1,
            at_line_start: true,
            prev: 0,
            quoted: false,
            starts: Default::default(),
        }
    }

    /// The line of the record whose reading began at byte `from`: the
    /// first non-blank line starting there or later.
    pub(super) fn line_from(&mut self, from: u64) -> u64 {
        while self.starts.front().is_some_and(|(at, _)| *at < from) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.line, |(_, line)| *line)
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Lines<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let this = &mut *self;
        for &b in &buf.filled()[before..] {
            let terminator = b == b'\n' || b == b'\r';
            if this.at_line_start
                && !terminator
                && !this.quoted
                && this.starts.len() < MAX_LINE_STARTS
            {
                this.starts.push_back((this.offset, this.line));
            }
            // `""` inside a quoted cell toggles twice: the cell goes on.
            if b == b'"' {
                this.quoted = !this.quoted;
            }
            this.at_line_start = terminator;
            // A line ends at \r\n, \n or a lone \r, as csv reads them.
            if b == b'\r' || (b == b'\n' && this.prev != b'\r') {
                this.line += 1;
            }
            this.prev = b;
            this.offset += 1;
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn lines_inside_a_quoted_cell_are_not_kept_as_record_starts() {
        let text = format!(
            "email,notes\na@x.co,\"{}\"\nb@x.co,y\n",
            "l\n".repeat(10_000)
        );
        let mut lines = Lines::new(text.as_bytes());
        let mut sink = Vec::new();
        lines.read_to_end(&mut sink).await.unwrap();
        // The header, the row with the long cell, the row after it.
        let starts: Vec<u64> = lines.starts.iter().map(|(_, line)| *line).collect();
        assert_eq!(starts, [1, 2, 10_003]);
    }
}
