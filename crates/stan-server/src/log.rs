//! Logging in the reference server's format:
//! `[pid] 2006/01/02 15:04:05.000000 [INF] STREAM: text`, to stderr or a file.

use std::fmt::Arguments;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};

static LEVEL: AtomicU8 = AtomicU8::new(1);
static FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// Verbosity: 0 errors only, 1 info (default), 2 debug (`-SD`), 3 trace (`-SV`/`-SDV`).
pub fn set_level(l: u8) {
    LEVEL.store(l, Ordering::Relaxed);
}

/// Send log lines to `path` (appending) instead of stderr.
pub fn set_file(path: &str) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let _ = FILE.set(Mutex::new(f));
    Ok(())
}

pub fn enabled(l: u8) -> bool {
    LEVEL.load(Ordering::Relaxed) >= l
}

fn write(tag: &str, args: Arguments<'_>) {
    let text = args.to_string();
    let line = format!("[{}] {} [{tag}] STREAM: {}\n", std::process::id(), timestamp(), escape_controls(&text));
    match FILE.get() {
        Some(f) => {
            let _ = f.lock().map(|mut f| f.write_all(line.as_bytes()));
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

pub fn error(args: Arguments<'_>) {
    write("ERR", args)
}
pub fn warn(args: Arguments<'_>) {
    write("WRN", args)
}
pub fn info(args: Arguments<'_>) {
    if enabled(1) {
        write("INF", args)
    }
}
pub fn debug(args: Arguments<'_>) {
    if enabled(2) {
        write("DBG", args)
    }
}
pub fn trace(args: Arguments<'_>) {
    if enabled(3) {
        write("TRC", args)
    }
}

/// One log entry is one line: control characters (CR, LF, ESC, ...) that a
/// client may have put into an ID, inbox, subject or name are escaped.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// UTC wall clock as `YYYY/MM/DD hh:mm:ss.uuuuuu`.
fn timestamp() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}/{m:02}/{day:02} {:02}:{:02}:{:02}.{:06}", s / 3600, s / 60 % 60, s % 60, d.subsec_micros())
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::escape_controls("plain [Client:a]"), "plain [Client:a]");
        assert_eq!(
            super::escape_controls("hb\r\n[1] 2026/01/01 [INF] STREAM: forged\u{1b}[31m\t"),
            "hb\\r\\n[1] 2026/01/01 [INF] STREAM: forged\\u{1b}[31m\\t"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(super::civil_from_days(20_513), (2026, 3, 1));
    }
}
