//! Property tests of the NATS wire decoder: arbitrary bytes (pure noise, or
//! valid server ops with noise and extreme numbers mixed in), fed in chunks
//! of any size, never panic it, never make it buffer more than one control
//! line plus one payload, and valid ops decode to the same values however the
//! stream is chunked. `STAN_LONG_TESTS=1` runs many more cases.

use nats_wire::{DecodeError, Decoder, ServerOp, MAX_CONTROL_LINE};
use proptest::prelude::*;

fn cases() -> u32 {
    if std::env::var_os("STAN_LONG_TESTS").is_some_and(|v| v == "1") {
        20_000
    } else {
        300
    }
}

/// Splits `data` at the given fractions and feeds the pieces one by one,
/// draining ops after each. Stops at the first error (the driver drops the
/// connection then). Checks the buffering bound while waiting for bytes.
fn feed_chunked(data: &[u8], cuts: &[prop::sample::Index]) -> Result<Vec<ServerOp>, DecodeError> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    let mut dec = Decoder::new();
    let mut ops = Vec::new();
    for w in points.windows(2) {
        dec.feed(&data[w[0]..w[1]]);
        // Each call either consumes bytes, fails, or asks for more: bounded.
        for _ in 0..=data.len() + 1 {
            match dec.next_op()? {
                Some(op) => ops.push(op),
                None => {
                    let bound = (MAX_CONTROL_LINE + 4).saturating_add(dec.max_payload());
                    assert!(dec.buffered() <= bound, "buffered {} bytes while waiting (bound {bound})", dec.buffered());
                    break;
                }
            }
        }
    }
    Ok(ops)
}

/// One server op as text, possibly malformed or with extreme numbers.
fn op_text() -> impl Strategy<Value = Vec<u8>> {
    let word = "[a-zA-Z0-9._>*-]{1,12}";
    let num = prop_oneof![
        (0u64..64).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just(u64::MAX.to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        Just("".to_string()),
    ];
    prop_oneof![
        Just(b"PING\r\n".to_vec()),
        Just(b"PONG\r\n".to_vec()),
        Just(b"+OK\r\n".to_vec()),
        "[ -~]{0,40}".prop_map(|t| format!("-ERR '{t}'\r\n").into_bytes()),
        (prop_oneof![any::<u64>(), Just(u64::MAX)], any::<bool>())
            .prop_map(
                |(m, h)| format!("INFO {{\"server_id\":\"x\",\"max_payload\":{m},\"headers\":{h}}}\r\n").into_bytes()
            ),
        "[ -~]{0,60}".prop_map(|t| format!("INFO {t}\r\n").into_bytes()),
        (word, num.clone(), proptest::option::of(word), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(
            |(s, sid, r, body)| {
                let mut v = match r {
                    Some(r) => format!("MSG {s} {sid} {r} {}\r\n", body.len()),
                    None => format!("MSG {s} {sid} {}\r\n", body.len()),
                }
                .into_bytes();
                v.extend_from_slice(&body);
                v.extend_from_slice(b"\r\n");
                v
            }
        ),
        (word, num.clone(), num.clone()).prop_map(|(s, sid, size)| format!("MSG {s} {sid} {size}\r\n").into_bytes()),
        (word, num.clone(), num.clone(), num)
            .prop_map(|(s, sid, h, t)| format!("HMSG {s} {sid} {h} {t}\r\n").into_bytes()),
        (word, "[ -~]{0,20}", proptest::collection::vec(any::<u8>(), 0..32)).prop_map(|(s, hdr, body)| {
            let head = format!("NATS/1.0\r\nK: {hdr}\r\n\r\n");
            let mut v = format!("HMSG {s} 1 {} {}\r\n", head.len(), head.len() + body.len()).into_bytes();
            v.extend_from_slice(head.as_bytes());
            v.extend_from_slice(&body);
            v.extend_from_slice(b"\r\n");
            v
        }),
        proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

/// A valid op and what it decodes to.
fn valid_op() -> impl Strategy<Value = (Vec<u8>, ServerOp)> {
    let word = "[a-zA-Z0-9._-]{1,12}";
    prop_oneof![
        Just((b"PING\r\n".to_vec(), ServerOp::Ping)),
        Just((b"PONG\r\n".to_vec(), ServerOp::Pong)),
        Just((b"+OK\r\n".to_vec(), ServerOp::Ok)),
        (word, any::<u64>(), proptest::option::of(word), proptest::collection::vec(any::<u8>(), 0..200)).prop_map(
            |(s, sid, r, body)| {
                let mut v = match &r {
                    Some(r) => format!("MSG {s} {sid} {r} {}\r\n", body.len()),
                    None => format!("MSG {s} {sid} {}\r\n", body.len()),
                }
                .into_bytes();
                v.extend_from_slice(&body);
                v.extend_from_slice(b"\r\n");
                let m = nats_wire::Msg { subject: s, sid, reply: r, headers: None, payload: body.into() };
                (v, ServerOp::Msg(m))
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn noise_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048),
                          cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let _ = feed_chunked(&data, &cuts);
    }

    #[test]
    fn op_soup_never_panics(ops in proptest::collection::vec(op_text(), 0..12),
                            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let data: Vec<u8> = ops.concat();
        let _ = feed_chunked(&data, &cuts);
    }

    #[test]
    fn valid_ops_decode_the_same_under_any_chunking(ops in proptest::collection::vec(valid_op(), 0..16),
                                                    cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..16)) {
        let data: Vec<u8> = ops.iter().flat_map(|(b, _)| b.clone()).collect();
        let want: Vec<ServerOp> = ops.into_iter().map(|(_, op)| op).collect();
        prop_assert_eq!(feed_chunked(&data, &cuts).expect("valid ops decode"), want);
    }

    #[test]
    fn a_line_without_newline_is_refused_at_the_limit(byte in 0x20u8..0x7f, extra in 1usize..64) {
        let mut dec = Decoder::new();
        dec.feed(&vec![byte; MAX_CONTROL_LINE + extra]);
        prop_assert_eq!(dec.next_op(), Err(DecodeError::ControlLineTooLong(MAX_CONTROL_LINE)));
    }
}

/// A server that announces an enormous `max_payload` and then a size near
/// `usize::MAX` must get an error (or a wait), not an arithmetic overflow.
#[test]
fn huge_announced_max_payload_and_size_do_not_overflow() {
    for size in [u64::MAX, u64::MAX - 1, u64::MAX - 2, u64::MAX / 2] {
        let data = format!("INFO {{\"server_id\":\"x\",\"max_payload\":{}}}\r\nMSG a 1 {size}\r\n", u64::MAX);
        let mut dec = Decoder::new();
        dec.feed(data.as_bytes());
        assert!(matches!(dec.next_op(), Ok(Some(ServerOp::Info(_)))));
        let r = dec.next_op();
        assert!(matches!(r, Ok(None) | Err(_)), "{r:?}");
    }
}
