//! `Decoder`: buffers bytes from the server and cuts them into [`ServerOp`]s.

use bytes::{Buf, Bytes, BytesMut};

use crate::{DecodeError, Headers, Msg, ServerInfo, ServerOp};

/// Longest control line accepted (INFO lines with many `connect_urls` are
/// the longest a server sends).
pub const MAX_CONTROL_LINE: usize = 64 * 1024;

/// Payload limit until the server's INFO says otherwise (nats-server's default).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// Incremental decoder of the server side of the NATS protocol.
///
/// Feed bytes with [`Decoder::feed`], then call [`Decoder::next_op`] until it
/// returns `Ok(None)` (more bytes needed). An `INFO` with a `max_payload`
/// raises or lowers the payload limit at once.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max_payload: usize,
    /// Bytes of the op last returned by [`Decoder::next_ref`], dropped from
    /// `buf` at the next call (its slices borrow them until then).
    consumed: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

/// The control line, split into its op word and the rest.
struct Line<'a> {
    op: &'a str,
    args: &'a str,
}

fn bad(op: &'static str, line: &str) -> DecodeError {
    DecodeError::BadArguments { op, line: line.chars().take(200).collect() }
}

fn number<T: std::str::FromStr>(op: &'static str, line: &str, s: &str) -> Result<T, DecodeError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(op, line));
    }
    s.parse::<T>().map_err(|_| bad(op, line))
}

impl Decoder {
    /// An empty decoder with the default payload limit.
    pub fn new() -> Self {
        Decoder { buf: BytesMut::new(), max_payload: DEFAULT_MAX_PAYLOAD, consumed: 0 }
    }

    /// The largest payload accepted.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Set the largest payload accepted.
    pub fn set_max_payload(&mut self, max: usize) {
        self.max_payload = max;
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.consumed
    }

    /// Append bytes as they arrived (any chunking).
    pub fn feed(&mut self, data: &[u8]) {
        self.settle();
        self.buf.extend_from_slice(data);
    }

    /// Forget everything buffered (the connection it came from is gone).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.consumed = 0;
    }

    /// Drop the bytes of the op last returned by [`Decoder::next_ref`].
    fn settle(&mut self) {
        if self.consumed > 0 {
            self.buf.advance(self.consumed);
            self.consumed = 0;
        }
    }

    /// The next complete op, `Ok(None)` if more bytes are needed.
    pub fn next_op(&mut self) -> Result<Option<ServerOp>, DecodeError> {
        self.settle();
        let window = &self.buf[..self.buf.len().min(MAX_CONTROL_LINE + 2)];
        let Some(nl) = window.iter().position(|&b| b == b'\n') else {
            if self.buf.len() > MAX_CONTROL_LINE {
                return Err(DecodeError::ControlLineTooLong(MAX_CONTROL_LINE));
            }
            return Ok(None);
        };
        let line_end = nl + 1; // bytes of the control line including its terminator
        let raw = &self.buf[..nl];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = crate::utf8(raw).ok_or(DecodeError::NotUtf8)?;
        let text = text.trim_start();
        let (op, args) = match text.find([' ', '\t']) {
            Some(i) => (&text[..i], text[i..].trim()),
            None => (text, ""),
        };
        let line = Line { op, args };
        if line.op.eq_ignore_ascii_case("MSG") || line.op.eq_ignore_ascii_case("HMSG") {
            // Owned, so the buffer can be consumed below.
            let args = String::from(line.args);
            return if line.op.len() == 3 { self.msg(&args, line_end) } else { self.hmsg(&args, line_end) };
        }
        let op = if line.op.eq_ignore_ascii_case("PING") {
            ServerOp::Ping
        } else if line.op.eq_ignore_ascii_case("PONG") {
            ServerOp::Pong
        } else if line.op.eq_ignore_ascii_case("+OK") {
            ServerOp::Ok
        } else if line.op.eq_ignore_ascii_case("-ERR") {
            let t = line.args;
            let t = t.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')).unwrap_or(t);
            ServerOp::Err(t.to_string())
        } else if line.op.eq_ignore_ascii_case("INFO") {
            let info: ServerInfo = serde_json::from_str(line.args).map_err(|e| DecodeError::BadInfo(e.to_string()))?;
            if info.max_payload > 0 {
                self.max_payload = info.max_payload;
            }
            ServerOp::Info(Box::new(info))
        } else {
            return Err(DecodeError::UnknownOp(line.op.chars().take(32).collect()));
        };
        self.buf.advance(line_end);
        Ok(Some(op))
    }

    /// Where the op whose control line ends at `line_end` and whose body has
    /// `size` bytes ends (`line_end + size + 2`), once all of it is buffered
    /// and its body is followed by CRLF; `None` while bytes are missing.
    pub(crate) fn body_end(&self, line_end: usize, size: usize) -> Result<Option<usize>, DecodeError> {
        if size > self.max_payload {
            return Err(DecodeError::PayloadTooLarge { size, max: self.max_payload });
        }
        // A server may announce any `max_payload`: never let the sum wrap.
        let Some(total) = line_end.checked_add(size).and_then(|t| t.checked_add(2)) else {
            return Err(DecodeError::PayloadTooLarge { size, max: self.max_payload });
        };
        if self.buf.len() < total {
            return Ok(None);
        }
        if &self.buf[line_end + size..total] != b"\r\n" {
            return Err(DecodeError::MissingPayloadTerminator);
        }
        Ok(Some(total))
    }

    /// Take `line_end + size + 2` bytes if present; returns the body (without CRLF).
    fn take_body(&mut self, line_end: usize, size: usize) -> Result<Option<Bytes>, DecodeError> {
        let Some(total) = self.body_end(line_end, size)? else { return Ok(None) };
        let mut frame = self.buf.split_to(total);
        frame.advance(line_end);
        frame.truncate(size);
        Ok(Some(frame.freeze()))
    }

    /// `MSG <subject> <sid> [reply] <size>`
    fn msg(&mut self, args: &str, line_end: usize) -> Result<Option<ServerOp>, DecodeError> {
        let a: Vec<&str> = args.split_ascii_whitespace().collect();
        let (subject, sid, reply, size) = match a.as_slice() {
            [s, sid, size] => (*s, *sid, None, *size),
            [s, sid, r, size] => (*s, *sid, Some(*r), *size),
            _ => return Err(bad("MSG", args)),
        };
        let sid: u64 = number("MSG", args, sid)?;
        let size: usize = number("MSG", args, size)?;
        let Some(payload) = self.take_body(line_end, size)? else { return Ok(None) };
        let msg = Msg { subject: subject.to_string(), sid, reply: reply.map(str::to_string), headers: None, payload };
        Ok(Some(ServerOp::Msg(msg)))
    }

    /// `HMSG <subject> <sid> [reply] <header size> <total size>`
    fn hmsg(&mut self, args: &str, line_end: usize) -> Result<Option<ServerOp>, DecodeError> {
        let a: Vec<&str> = args.split_ascii_whitespace().collect();
        let (subject, sid, reply, hsize, total) = match a.as_slice() {
            [s, sid, h, t] => (*s, *sid, None, *h, *t),
            [s, sid, r, h, t] => (*s, *sid, Some(*r), *h, *t),
            _ => return Err(bad("HMSG", args)),
        };
        let sid: u64 = number("HMSG", args, sid)?;
        let hsize: usize = number("HMSG", args, hsize)?;
        let total: usize = number("HMSG", args, total)?;
        if hsize > total {
            return Err(bad("HMSG", args));
        }
        let Some(mut body) = self.take_body(line_end, total)? else { return Ok(None) };
        let payload = body.split_off(hsize);
        let headers = Headers::parse(&body)?;
        let msg = Msg {
            subject: subject.to_string(),
            sid,
            reply: reply.map(str::to_string),
            headers: Some(headers),
            payload,
        };
        Ok(Some(ServerOp::Msg(msg)))
    }
}

mod borrowed;
pub use borrowed::{MsgRef, OpRef};

#[cfg(test)]
mod tests;
