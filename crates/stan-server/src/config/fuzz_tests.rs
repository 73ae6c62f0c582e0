//! Property tests (proptest) of the command-line parser: any argument list
//! (known flags, unknown ones, inline `=` values, arbitrary values) gives
//! either options or a clear error, never a panic; accepted durations fit
//! Go's range (so no later conversion wraps); and well-formed values parse to
//! what they say. `STAN_LONG_TESTS=1` runs many more cases.

use super::*;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let long_run = std::env::var_os("STAN_LONG_TESTS").is_some_and(|v| v == "1");
    ProptestConfig {
        cases: if long_run { 20_000 } else { 500 },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A flag name: a known one (either spelling), or something else.
fn flag() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(VALUE_FLAGS).prop_map(str::to_string),
        2 => proptest::sample::select(BOOL_FLAGS.iter().filter(|f| !["h", "help", "v", "version"].contains(f)).copied().collect::<Vec<_>>())
            .prop_map(str::to_string),
        1 => "[a-z_]{1,12}",
    ]
}

/// A value: numbers, durations, sizes, booleans, store names or noise.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<u32>(), proptest::sample::select(vec!["ns", "us", "µs", "ms", "s", "m", "h", ""]))
            .prop_map(|(n, u)| format!("{n}{u}")),
        "[0-9.]{1,30}[hms]{0,2}",
        (any::<u64>(), proptest::sample::select(vec!["", "B", "K", "KB", "M", "MB", "G", "GB", "kb"]))
            .prop_map(|(n, u)| format!("{n}{u}")),
        proptest::sample::select(vec!["true", "false", "1", "0", "T", "yes", "memory", "FILE", "sql", "x"])
            .prop_map(str::to_string),
        ".{0,20}",
    ]
}

/// One command-line token group: `-flag`, `--flag value`, `-flag=value`, or a stray word.
fn arg_group() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        (flag(), any::<bool>()).prop_map(|(f, two)| vec![if two { format!("--{f}") } else { format!("-{f}") }]),
        (flag(), value()).prop_map(|(f, v)| vec![format!("--{f}"), v]),
        (flag(), value()).prop_map(|(f, v)| vec![format!("-{f}={v}")]),
        ".{0,12}".prop_map(|w| vec![w]),
    ]
}

fn check_options(o: &Options) {
    for d in [o.hb_interval, o.hb_timeout, o.max_age, o.max_inactivity] {
        assert!(d.as_nanos() <= i64::MAX as u128, "duration {d:?} beyond Go's range was accepted");
    }
    assert!(!o.hb_interval.is_zero() && !o.hb_timeout.is_zero());
    if o.store == StoreType::File {
        assert!(o.dir.is_some());
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_arguments_give_options_or_a_clear_error(groups in proptest::collection::vec(arg_group(), 0..8)) {
        let args: Vec<String> = groups.concat();
        match parse(args.clone()) {
            Ok(Command::Run(o)) => check_options(&o),
            // `-h`/`-v` (or a long form) anywhere before an error.
            Ok(Command::Help | Command::Version) => prop_assert!(args.iter().any(|a| a.starts_with('-'))),
            Err(e) => prop_assert!(!e.trim().is_empty(), "empty error for {args:?}"),
        }
    }

    #[test]
    fn any_duration_text_parses_in_range_or_not_at_all(s in prop_oneof!["[0-9.]{0,40}[a-zµ]{0,3}([0-9.]{0,10}[a-z]{0,2}){0,3}", ".{0,16}"]) {
        if let Some(d) = parse_duration(&s) {
            prop_assert!(d.as_nanos() <= i64::MAX as u128, "{s:?} -> {d:?}");
        }
    }

    #[test]
    fn well_formed_durations_parse_to_their_value(n in 0u32..1_000_000, unit in 0usize..6) {
        let (suffix, ns_per) = [("ns", 1u128), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
                                ("m", 60_000_000_000), ("h", 3_600_000_000_000)][unit];
        let d = parse_duration(&format!("{n}{suffix}")).expect("well-formed duration");
        let want = u128::from(n) * ns_per;
        // Parsed through f64 seconds: equal to within a microsecond per hour.
        let tol = 1 + want / 1_000_000_000;
        prop_assert!(d.as_nanos().abs_diff(want) <= tol, "{n}{suffix} -> {d:?}");
    }

    #[test]
    fn sizes_parse_exactly_or_are_refused_on_overflow(n in any::<u64>(), unit in 0usize..4) {
        let (suffix, mult) = [("", 1u64), ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30)][unit];
        prop_assert_eq!(parse_size(&format!("{n}{suffix}")), n.checked_mul(mult));
    }

    #[test]
    fn numeric_flags_take_exactly_their_type(p in any::<i64>()) {
        let r = parse(["-p".to_string(), p.to_string()]);
        match u16::try_from(p) {
            Ok(port) => prop_assert!(matches!(r, Ok(Command::Run(o)) if o.port == port)),
            Err(_) => prop_assert_eq!(r, Err(bad("p", &p.to_string()))),
        }
    }
}

#[test]
fn durations_beyond_go_range_are_refused() {
    for s in ["3000000h", "9223372037s", "99999999999999999999999h", "1e400s"] {
        assert_eq!(parse_duration(s), None, "{s}");
    }
    assert_eq!(parse_duration("2562047h"), Some(Duration::from_secs(2_562_047 * 3600)));
    assert!(parse(["-hbi".to_string(), "99999999999999999999h".to_string()]).unwrap_err().contains("invalid value"));
}
