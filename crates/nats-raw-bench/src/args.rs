//! Command-line arguments of nats-raw-bench (`--url`, `--n`, `--window`, `--size`, `--respond`).

pub const USAGE: &str =
    "usage: nats-raw-bench --url nats://127.0.0.1:4222 [--n 100000] [--window 512] [--size 128]\n       \
                         nats-raw-bench --url nats://127.0.0.1:4222 --respond <subject>";

#[derive(Debug, PartialEq)]
pub struct Args {
    pub url: String,
    pub n: u64,
    pub window: u64,
    pub size: usize,
    /// Responder only: answer every request on this subject with its own
    /// payload until stdin closes.
    pub respond: Option<String>,
}

impl Args {
    pub fn parse(mut argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Args { url: String::new(), n: 100_000, window: 512, size: 128, respond: None };
        while let Some(flag) = argv.next() {
            let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--url" => args.url = value,
                "--n" => args.n = positive(&flag, &value)?,
                "--window" => args.window = positive(&flag, &value)?,
                "--size" => {
                    args.size = value.parse().map_err(|_| format!("{flag} must be a number of bytes, got {value:?}"))?
                }
                "--respond" if !value.is_empty() => args.respond = Some(value),
                "--respond" => return Err("--respond needs a subject".into()),
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        if args.url.is_empty() {
            return Err("--url is required".into());
        }
        Ok(args)
    }
}

fn positive(flag: &str, value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag} must be a positive integer, got {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[&str]) -> Result<Args, String> {
        Args::parse(s.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_overrides() {
        let a = parse(&["--url", "nats://x:1"]).unwrap();
        assert_eq!((a.n, a.window, a.size), (100_000, 512, 128));
        let a = parse(&["--url", "u", "--n", "5", "--window", "7", "--size", "0"]).unwrap();
        assert_eq!(a, Args { url: "u".into(), n: 5, window: 7, size: 0, respond: None });
        let a = parse(&["--url", "u", "--respond", "lat.x"]).unwrap();
        assert_eq!(a.respond.as_deref(), Some("lat.x"));
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(parse(&[]).unwrap_err(), "--url is required");
        assert_eq!(parse(&["--url"]).unwrap_err(), "--url needs a value");
        assert!(parse(&["--url", "u", "--n", "0"]).unwrap_err().contains("positive integer"));
        assert!(parse(&["--url", "u", "--bogus", "1"]).unwrap_err().contains("unknown argument --bogus"));
        assert_eq!(parse(&["--url", "u", "--respond", ""]).unwrap_err(), "--respond needs a subject");
    }
}
