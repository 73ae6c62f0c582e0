//! `Decoder::next_ref`: `MSG` ops as slices of the decoder's buffer, for
//! readers that handle each message at once and must not allocate per message.

use super::{bad, Decoder, MAX_CONTROL_LINE};
use crate::{DecodeError, ServerOp};

/// A `MSG` borrowed from the decoder's buffer, valid until the decoder is used again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgRef<'a> {
    pub subject: &'a str,
    pub sid: u64,
    pub reply: Option<&'a str>,
    pub payload: &'a [u8],
}

/// An op from [`Decoder::next_ref`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpRef<'a> {
    /// A `MSG` (the hot path), borrowed.
    Msg(MsgRef<'a>),
    /// Any other op, owned as [`Decoder::next_op`] returns it (`HMSG` included).
    Other(ServerOp),
}

/// The index of the first space or tab in `line` at or after `from`
/// (`line.len()` if none). Eight bytes at a time: subjects and inboxes are
/// tens of bytes, too short for memchr's set-up to pay off. One test per
/// word finds the bytes below `!` (spaces, tabs and the control bytes, which
/// no subject has in practice); only such a byte is looked at on its own.
fn blank_from(line: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `x` below `!`; exact for the lowest such
    // byte (borrows only run upwards), which is all that is used.
    let low = |x: u64| x.wrapping_sub(ONES * u64::from(b'!')) & !x & HIGHS;
    let is_blank = |b: u8| b == b' ' || b == b'\t';
    let mut i = from;
    while i + 8 <= line.len() {
        let x = u64::from_le_bytes(line[i..i + 8].try_into().expect("8 bytes"));
        let hits = low(x);
        if hits == 0 {
            i += 8;
            continue;
        }
        let at = i + (hits.trailing_zeros() / 8) as usize;
        if is_blank(line[at]) {
            return at;
        }
        // A control byte inside the token: go on after it.
        i = at + 1;
    }
    line[i..].iter().position(|&b| is_blank(b)).map_or(line.len(), |k| i + k)
}

/// Up to `N` whitespace-separated tokens of `line` as byte ranges; `None` if there are more.
fn tokens<const N: usize>(line: &[u8]) -> Option<([(usize, usize); N], usize)> {
    let mut out = [(0, 0); N];
    let mut n = 0;
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
            i += 1;
        }
        if i == line.len() {
            break;
        }
        let start = i;
        i = blank_from(line, i);
        if n == N {
            return None;
        }
        out[n] = (start, i);
        n += 1;
    }
    Some((out, n))
}

/// The decimal number `s` (ASCII digits only, at least one), `None` if it
/// is not one or overflows a `u64`: what `str::parse::<u64>` accepts from digits.
fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(
        0u64,
        |v, &b| if b.is_ascii_digit() { v.checked_mul(10)?.checked_add(u64::from(b - b'0')) } else { None },
    )
}

impl Decoder {
    /// Like [`Decoder::next_op`], but a `MSG` is returned as a [`MsgRef`]
    /// borrowing this decoder's buffer (no allocation); its bytes are dropped
    /// at the next call. A `MSG` whose subject or reply is not UTF-8 is
    /// skipped and reported as [`DecodeError::NotUtf8`]: after that error
    /// (only) decoding may go on.
    pub fn next_ref(&mut self) -> Result<Option<OpRef<'_>>, DecodeError> {
        self.settle();
        let is_msg =
            self.buf.len() >= 4 && self.buf[..3].eq_ignore_ascii_case(b"MSG") && matches!(self.buf[3], b' ' | b'\t');
        if !is_msg {
            return Ok(self.next_op()?.map(OpRef::Other));
        }
        let window = &self.buf[..self.buf.len().min(MAX_CONTROL_LINE + 2)];
        let Some(nl) = memchr::memchr(b'\n', window) else {
            if self.buf.len() > MAX_CONTROL_LINE {
                return Err(DecodeError::ControlLineTooLong(MAX_CONTROL_LINE));
            }
            return Ok(None);
        };
        let line_end = nl + 1;
        let raw = &self.buf[4..nl];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = || String::from_utf8_lossy(raw).into_owned();
        let (t, n) = tokens::<4>(raw).ok_or_else(|| bad("MSG", &text()))?;
        let (subject, sid, reply, size) = match n {
            3 => (t[0], t[1], None, t[2]),
            4 => (t[0], t[1], Some(t[2]), t[3]),
            _ => return Err(bad("MSG", &text())),
        };
        let num = |r: (usize, usize)| digits(&raw[r.0..r.1]);
        let (Some(sid), Some(size)) = (num(sid), num(size).and_then(|s| usize::try_from(s).ok())) else {
            return Err(bad("MSG", &text()));
        };
        let Some(total) = self.body_end(line_end, size)? else { return Ok(None) };
        self.consumed = total;
        // Offsets into `buf`: the line's fields start 4 bytes in.
        let buf = &self.buf[..];
        let text_at = |r: (usize, usize)| crate::utf8(&buf[4 + r.0..4 + r.1]).ok_or(DecodeError::NotUtf8);
        let subject = text_at(subject)?;
        let reply = reply.map(text_at).transpose()?;
        Ok(Some(OpRef::Msg(MsgRef { subject, sid, reply, payload: &buf[line_end..line_end + size] })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Msg;

    /// Every op of `bytes` fed in chunks of `step`, through `next_ref`, as owned ops.
    fn decode(input: &[u8], step: usize) -> Result<Vec<ServerOp>, DecodeError> {
        let mut d = Decoder::new();
        let mut ops = Vec::new();
        for chunk in input.chunks(step) {
            d.feed(chunk);
            while let Some(op) = d.next_ref()? {
                ops.push(match op {
                    OpRef::Msg(m) => ServerOp::Msg(Msg {
                        subject: m.subject.into(),
                        sid: m.sid,
                        reply: m.reply.map(Into::into),
                        headers: None,
                        payload: bytes::Bytes::copy_from_slice(m.payload),
                    }),
                    OpRef::Other(op) => op,
                });
            }
        }
        assert_eq!(d.buffered(), 0, "left over");
        Ok(ops)
    }

    /// The same through `next_op`.
    fn decode_owned(input: &[u8]) -> Vec<ServerOp> {
        let mut d = Decoder::new();
        d.feed(input);
        let mut ops = Vec::new();
        while let Some(op) = d.next_op().unwrap() {
            ops.push(op);
        }
        ops
    }

    const STREAM: &[u8] = b"PING\r\nMSG a.b 1 _INBOX.r 5\r\nhello\r\nMSG  c\t22 0\r\n\r\n+OK\r\n\
        HMSG h 3 12 14\r\nNATS/1.0\r\n\r\nhi\r\nmsg low 4 2\r\n\r\n\r\nPONG\r\n";

    #[test]
    fn same_ops_as_next_op_at_every_chunk_size() {
        let want = decode_owned(STREAM);
        assert_eq!(want.len(), 7, "{want:?}");
        for step in 1..=STREAM.len() {
            assert_eq!(decode(STREAM, step).unwrap(), want, "chunks of {step}");
        }
    }

    #[test]
    fn msg_borrows_the_buffer() {
        let mut d = Decoder::new();
        d.feed(b"MSG subj 9 rep 3\r\nabc\r\nMSG x 1 0\r\n\r\n");
        let Some(OpRef::Msg(m)) = d.next_ref().unwrap() else { panic!() };
        assert_eq!(m, MsgRef { subject: "subj", sid: 9, reply: Some("rep"), payload: b"abc" });
        assert_eq!(d.buffered(), 13, "only the second message is still to decode");
        let Some(OpRef::Msg(m)) = d.next_ref().unwrap() else { panic!() };
        assert_eq!((m.subject, m.reply, m.payload), ("x", None, &b""[..]));
        assert_eq!(d.next_ref().unwrap(), None);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn bad_lines_and_limits_are_errors() {
        for (input, what) in [
            (&b"MSG a 1\r\n"[..], "too few"),
            (&b"MSG a 1 b c 3\r\nabc\r\n"[..], "too many"),
            (&b"MSG a x 3\r\nabc\r\n"[..], "sid"),
            (&b"MSG a 1 -3\r\nabc\r\n"[..], "size"),
        ] {
            let mut d = Decoder::new();
            d.feed(input);
            assert!(matches!(d.next_ref(), Err(DecodeError::BadArguments { op: "MSG", .. })), "{what}");
        }
        let mut d = Decoder::new();
        d.set_max_payload(4);
        d.feed(b"MSG a 1 5\r\n");
        assert_eq!(d.next_ref(), Err(DecodeError::PayloadTooLarge { size: 5, max: 4 }));
        let mut d = Decoder::new();
        d.feed(b"MSG a 1 3\r\nabcd\r\n");
        assert_eq!(d.next_ref(), Err(DecodeError::MissingPayloadTerminator));
        let mut d = Decoder::new();
        d.feed(b"MSG ");
        d.feed(&vec![b'a'; MAX_CONTROL_LINE + 1]);
        assert_eq!(d.next_ref(), Err(DecodeError::ControlLineTooLong(MAX_CONTROL_LINE)));
    }

    proptest::proptest! {
        #[test]
        fn blank_from_finds_the_first_space_or_tab(
            line in proptest::collection::vec(proptest::sample::select(vec![b' ', b'\t', b'a', 0x20 ^ 0x80, 0x09 ^ 0x80, 0x21, 0x1f, 0x08, 0x0a, 0xff, 0]), 0..40),
            from in 0usize..41,
        ) {
            let from = from.min(line.len());
            let want = line[from..].iter().position(|&b| b == b' ' || b == b'\t').map_or(line.len(), |k| from + k);
            proptest::prop_assert_eq!(blank_from(&line, from), want);
        }
    }

    #[test]
    fn digits_parse_as_str_parse_does() {
        for s in [
            "0",
            "007",
            "18446744073709551615",
            "18446744073709551616",
            "",
            "+1",
            "-1",
            "1 ",
            "12a",
            "99999999999999999999",
        ] {
            let want = if s.bytes().all(|b| b.is_ascii_digit()) { s.parse::<u64>().ok() } else { None };
            assert_eq!(digits(s.as_bytes()), want, "{s:?}");
        }
        let mut d = Decoder::new();
        d.feed(b"MSG a 18446744073709551616 3\r\nabc\r\n");
        assert!(matches!(d.next_ref(), Err(DecodeError::BadArguments { op: "MSG", .. })));
        let mut d = Decoder::new();
        d.feed(b"MSG a\t\t18446744073709551615  _R\t3 \r\nabc\r\n");
        let Some(OpRef::Msg(m)) = d.next_ref().unwrap() else { panic!() };
        assert_eq!((m.subject, m.sid, m.reply, m.payload), ("a", u64::MAX, Some("_R"), &b"abc"[..]));
    }

    #[test]
    fn a_non_utf8_subject_skips_that_message_only() {
        let mut d = Decoder::new();
        d.feed(b"MSG a\xff 1 1\r\nx\r\nMSG ok 2 1\r\ny\r\n");
        assert_eq!(d.next_ref(), Err(DecodeError::NotUtf8));
        let Some(OpRef::Msg(m)) = d.next_ref().unwrap() else { panic!() };
        assert_eq!((m.subject, m.sid, m.payload), ("ok", 2, &b"y"[..]));
    }
}
