//! Decoder tests: one per op, chunk boundaries, limits and seeded garbage.

use super::*;

fn decode_all(d: &mut Decoder) -> Result<Vec<ServerOp>, DecodeError> {
    let mut ops = Vec::new();
    while let Some(op) = d.next_op()? {
        ops.push(op);
    }
    Ok(ops)
}

fn one(bytes: &[u8]) -> ServerOp {
    let mut d = Decoder::new();
    d.feed(bytes);
    let ops = decode_all(&mut d).unwrap();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(d.buffered(), 0);
    ops.into_iter().next().unwrap()
}

fn msg(subject: &str, sid: u64, reply: Option<&str>, payload: &[u8]) -> ServerOp {
    ServerOp::Msg(Msg {
        subject: subject.into(),
        sid,
        reply: reply.map(Into::into),
        headers: None,
        payload: Bytes::copy_from_slice(payload),
    })
}

mod read_op {
    use super::*;

    #[test]
    fn info() {
        let op = one(
            b"INFO {\"server_id\":\"S1\",\"version\":\"2.15.1\",\"max_payload\":2048,\"headers\":true,\"x\":[1]}\r\n",
        );
        let ServerOp::Info(info) = op else { panic!("{op:?}") };
        assert_eq!((info.server_id.as_str(), info.version.as_str()), ("S1", "2.15.1"));
        assert_eq!(info.max_payload, 2048);
        assert!(info.headers);
    }

    #[test]
    fn info_sets_the_payload_limit() {
        let mut d = Decoder::new();
        d.feed(b"INFO {\"max_payload\":4}\r\nMSG a 1 5\r\nhello\r\n");
        assert!(matches!(d.next_op(), Ok(Some(ServerOp::Info(_)))));
        assert_eq!(d.max_payload(), 4);
        assert_eq!(d.next_op(), Err(DecodeError::PayloadTooLarge { size: 5, max: 4 }));
    }

    #[test]
    fn msg_without_reply() {
        assert_eq!(one(b"MSG foo.bar 9 5\r\nhello\r\n"), msg("foo.bar", 9, None, b"hello"));
    }

    #[test]
    fn msg_with_reply_and_crlf_in_payload() {
        assert_eq!(one(b"MSG foo 1 _INBOX.a 4\r\n\r\n\r\n\r\n"), msg("foo", 1, Some("_INBOX.a"), b"\r\n\r\n"));
    }

    #[test]
    fn msg_empty_payload() {
        assert_eq!(one(b"MSG foo 2 0\r\n\r\n"), msg("foo", 2, None, b""));
    }

    #[test]
    fn hmsg_no_responders_status() {
        let hdr = b"NATS/1.0 503\r\n\r\n";
        let line = format!("HMSG _INBOX.x.1 4 {} {}\r\n", hdr.len(), hdr.len());
        let mut bytes = line.into_bytes();
        bytes.extend_from_slice(hdr);
        bytes.extend_from_slice(b"\r\n");
        let ServerOp::Msg(m) = one(&bytes) else { panic!() };
        assert_eq!(m.status(), Some(503));
        assert!(m.payload.is_empty());
        assert_eq!((m.subject.as_str(), m.sid, m.reply), ("_INBOX.x.1", 4, None));
    }

    #[test]
    fn hmsg_with_fields_and_payload() {
        let hdr = b"NATS/1.0\r\nK: v\r\n\r\n";
        let line = format!("HMSG foo 3 rep {} {}\r\n", hdr.len(), hdr.len() + 2);
        let mut bytes = line.into_bytes();
        bytes.extend_from_slice(hdr);
        bytes.extend_from_slice(b"hi\r\n");
        let ServerOp::Msg(m) = one(&bytes) else { panic!() };
        assert_eq!(m.status(), None);
        assert_eq!(m.headers.as_ref().and_then(|h| h.get("k")), Some("v"));
        assert_eq!(&m.payload[..], b"hi");
        assert_eq!(m.reply.as_deref(), Some("rep"));
    }

    #[test]
    fn ping_pong_ok() {
        assert_eq!(one(b"PING\r\n"), ServerOp::Ping);
        assert_eq!(one(b"PONG\r\n"), ServerOp::Pong);
        assert_eq!(one(b"+OK\r\n"), ServerOp::Ok);
        assert_eq!(one(b"ping\r\n"), ServerOp::Ping);
    }

    #[test]
    fn err() {
        assert_eq!(one(b"-ERR 'Authorization Violation'\r\n"), ServerOp::Err("Authorization Violation".into()));
        assert_eq!(one(b"-ERR 'Unknown Protocol Operation'\r\n"), ServerOp::Err("Unknown Protocol Operation".into()));
    }
}

mod chunks {
    use super::*;

    fn stream() -> Vec<u8> {
        let hdr = b"NATS/1.0 503\r\n\r\n";
        let mut s =
            b"INFO {\"server_id\":\"X\",\"max_payload\":1048576}\r\nPING\r\nMSG a.b 17 _R.x 3\r\nabc\r\n".to_vec();
        s.extend_from_slice(format!("HMSG _INBOX.r.7 4 {} {}\r\n", hdr.len(), hdr.len()).as_bytes());
        s.extend_from_slice(hdr);
        s.extend_from_slice(b"\r\n+OK\r\nMSG c 1 0\r\n\r\n-ERR 'x'\r\nPONG\r\n");
        s
    }

    fn expected() -> Vec<ServerOp> {
        let mut d = Decoder::new();
        d.feed(&stream());
        let ops = decode_all(&mut d).unwrap();
        assert_eq!(ops.len(), 8);
        ops
    }

    #[test]
    fn every_split_point() {
        let s = stream();
        let want = expected();
        for i in 0..=s.len() {
            let mut d = Decoder::new();
            d.feed(&s[..i]);
            let mut got = decode_all(&mut d).unwrap();
            d.feed(&s[i..]);
            got.extend(decode_all(&mut d).unwrap());
            assert_eq!(got, want, "split at {i}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn every_pair_of_split_points() {
        let s = stream();
        let want = expected();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                let mut d = Decoder::new();
                let mut got = Vec::new();
                for part in [&s[..i], &s[i..j], &s[j..]] {
                    d.feed(part);
                    got.extend(decode_all(&mut d).unwrap());
                }
                assert_eq!(got, want, "split at {i}/{j}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for b in stream() {
            d.feed(&[b]);
            got.extend(decode_all(&mut d).unwrap());
        }
        assert_eq!(got, expected());
    }
}

mod errors {
    use super::*;

    fn first_err(bytes: &[u8]) -> DecodeError {
        let mut d = Decoder::new();
        d.feed(bytes);
        decode_all(&mut d).unwrap_err()
    }

    #[test]
    fn unknown_op() {
        assert_eq!(first_err(b"HELLO world\r\n"), DecodeError::UnknownOp("HELLO".into()));
    }

    #[test]
    fn malformed_msg_lines() {
        assert!(matches!(first_err(b"MSG foo\r\n"), DecodeError::BadArguments { op: "MSG", .. }));
        assert!(matches!(first_err(b"MSG foo x 3\r\nabc\r\n"), DecodeError::BadArguments { op: "MSG", .. }));
        assert!(matches!(first_err(b"MSG foo 1 -3\r\n"), DecodeError::BadArguments { op: "MSG", .. }));
        assert!(matches!(first_err(b"MSG a 1 99999999999999999999999\r\n"), DecodeError::BadArguments { .. }));
        assert!(matches!(first_err(b"HMSG foo 1 9 3\r\n"), DecodeError::BadArguments { op: "HMSG", .. }));
    }

    #[test]
    fn payload_without_terminator() {
        assert_eq!(first_err(b"MSG foo 1 3\r\nabcXY"), DecodeError::MissingPayloadTerminator);
    }

    #[test]
    fn bad_info_and_headers() {
        assert!(matches!(first_err(b"INFO {nope\r\n"), DecodeError::BadInfo(_)));
        assert_eq!(first_err(b"HMSG a 1 3 3\r\nabc\r\n"), DecodeError::BadHeaders);
        assert_eq!(first_err(b"\xff\xfe\r\n"), DecodeError::NotUtf8);
    }

    #[test]
    fn buffer_is_bounded() {
        let mut d = Decoder::new();
        let chunk = vec![b'a'; 4096];
        let mut result = Ok(None);
        for _ in 0..(MAX_CONTROL_LINE / chunk.len() + 2) {
            d.feed(&chunk);
            result = d.next_op();
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(DecodeError::ControlLineTooLong(MAX_CONTROL_LINE)));
        assert!(d.buffered() <= MAX_CONTROL_LINE + 4096);
    }

    #[test]
    fn oversized_payload_is_refused_before_it_arrives() {
        let mut d = Decoder::new();
        d.feed(b"MSG a 1 1048577\r\n");
        assert_eq!(d.next_op(), Err(DecodeError::PayloadTooLarge { size: 1_048_577, max: DEFAULT_MAX_PAYLOAD }));
    }
}

/// xorshift64*: a seeded generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn seeded_random_garbage_never_panics() {
    const ALPHABET: &[u8] = b"MSGHINFOPONGERR+-K 0123456789\r\n\r\n{}\"'._*>";
    let valid = b"INFO {\"max_payload\":64}\r\nMSG a.b 17 _R.x 3\r\nabc\r\nPING\r\n".to_vec();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..3000 {
        let mut input: Vec<u8> = match round % 3 {
            0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            1 => (0..rng.below(300)).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect(),
            _ => valid.clone(),
        };
        for _ in 0..rng.below(6) {
            if !input.is_empty() {
                let i = rng.below(input.len());
                input[i] = ALPHABET[rng.below(ALPHABET.len())];
            }
        }
        let mut d = Decoder::new();
        let mut pos = 0;
        'feed: while pos < input.len() {
            let n = 1 + rng.below(input.len() - pos);
            d.feed(&input[pos..pos + n]);
            pos += n;
            loop {
                match d.next_op() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
        assert!(d.buffered() <= input.len());
    }
}
