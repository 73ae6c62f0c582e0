//! `stan-server migrate --from <orig-dir> --to <our-dir>`: converts a file
//! store written by the original nats-streaming-server into stan-server's
//! file store (see [`crate::store::orig`]). The source is only read.

use crate::log;
use crate::state::{self, State};
use crate::store::file::FileJournal;
use crate::store::orig::{self, ReadOptions};
use crate::store::{Journal, SyncPolicy};
use std::path::{Path, PathBuf};

pub const USAGE: &str = "\
Usage: stan-server migrate --from <dir> --to <dir> [--file_truncate_bad_eof]

Converts the file store of nats-streaming-server (server.dat, clients.dat,
one directory per channel) in --from into a stan-server file store in --to
(created if needed; it must not hold a stan-server store already). Every
channel, message, client and subscription (durables with their position and
unacknowledged messages) is kept. --from is only read.

    --from <dir>                 The original server's --dir (stop that server first)
    --to <dir>                   The --dir to give stan-server afterwards
    --file_truncate_bad_eof      Drop a torn last record of a file (as the original's
                                 flag of that name does) instead of failing
";

/// What `migrate` was asked to do.
#[derive(Debug, PartialEq)]
pub struct MigrateOptions {
    pub from: PathBuf,
    pub to: PathBuf,
    pub read: ReadOptions,
}

/// Parses the arguments after `migrate`; `Ok(None)` asks for the usage.
pub fn parse(args: &[String]) -> Result<Option<MigrateOptions>, String> {
    let (mut from, mut to, mut read) = (None, None, ReadOptions::default());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let name = a.trim_start_matches('-');
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (name, None),
        };
        let mut value =
            || inline.clone().or_else(|| it.next().cloned()).ok_or(format!("flag needs an argument: -{name}"));
        match name {
            "h" | "help" => return Ok(None),
            "from" => from = Some(PathBuf::from(value()?)),
            "to" => to = Some(PathBuf::from(value()?)),
            "file_truncate_bad_eof" => {
                read.truncate_bad_eof = match inline.as_deref() {
                    None | Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(v) => return Err(format!("invalid boolean value {v:?} for -{name}")),
                }
            }
            _ => return Err(format!("flag provided but not defined: {a}")),
        }
    }
    let from = from.ok_or("migrate needs --from <dir> (the original server's store)")?;
    let to = to.ok_or("migrate needs --to <dir> (stan-server's store)")?;
    Ok(Some(MigrateOptions { from, to, read }))
}

/// Runs the migration; returns a one-line summary.
pub fn run(o: &MigrateOptions) -> Result<String, String> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if canon(&o.from) == canon(&o.to) {
        return Err("--from and --to must be different directories".into());
    }
    if !o.from.is_dir() {
        return Err(format!("{} is not a directory", o.from.display()));
    }
    if orig::looks_like_original(&o.to) {
        return Err(format!("{} holds a nats-streaming-server store; --to must be stan-server's", o.to.display()));
    }
    let src = orig::read_store(&o.from, o.read)?;
    for w in &src.warnings {
        log::warn(format_args!("{w}"));
    }
    let cluster_id = src.info.cluster_id.clone();
    let cfg = state::Config::new(&cluster_id);
    let ours = state::Subjects::new(&cfg);
    let expected = [
        ("publish", ours.pub_prefix.clone()),
        ("subscribe", ours.sub.clone()),
        ("unsubscribe", ours.unsub.clone()),
        ("close", ours.close.clone()),
        ("subclose", ours.sub_close.clone()),
        ("discovery", ours.discover.clone()),
    ];
    for m in src.subject_mismatches(&expected) {
        log::warn(format_args!("The original store uses the {m}: clients connected to it must reconnect"));
    }
    let pending: usize = src.channels.values().flat_map(|c| c.subs.values()).map(|s| s.pending.len()).sum();
    let (mut journal, existing) = FileJournal::open(&o.to, SyncPolicy::Fsync)
        .map_err(|e| format!("cannot open the file store in {}: {e}", o.to.display()))?;
    if !existing.is_empty() {
        return Err(format!("{} already holds a stan-server store; migrate into an empty directory", o.to.display()));
    }
    let mut st = State::new(cfg);
    let rec = st.replay(src.to_records(), 0)?;
    journal.rewrite(&st.snapshot()).map_err(|e| format!("cannot write the store in {}: {e}", o.to.display()))?;
    Ok(format!(
        "Migrated cluster {cluster_id:?} from {} to {}: {} client(s), {} channel(s), {} message(s), \
         {} subscription(s) with {pending} unacknowledged message(s)",
        o.from.display(),
        o.to.display(),
        rec.clients,
        rec.channels,
        rec.msgs,
        rec.subs
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_flags_and_refuses_bad_ones() {
        let o = parse(&args(&["--from", "a", "--to=b", "--file_truncate_bad_eof"])).unwrap().unwrap();
        assert_eq!((o.from, o.to, o.read.truncate_bad_eof), (PathBuf::from("a"), PathBuf::from("b"), true));
        assert_eq!(parse(&args(&["-h"])).unwrap(), None);
        assert!(parse(&args(&["--from", "a"])).unwrap_err().contains("--to"));
        assert!(parse(&args(&["--to", "a"])).unwrap_err().contains("--from"));
        assert!(parse(&args(&["--from"])).unwrap_err().contains("needs an argument"));
        assert!(parse(&args(&["--bogus"])).unwrap_err().contains("not defined"));
        assert!(parse(&args(&["--file_truncate_bad_eof=maybe"])).unwrap_err().contains("invalid boolean"));
    }

    #[test]
    fn refuses_same_dir_and_non_stores() {
        let d = tempfile::tempdir().unwrap();
        let o =
            |from: &Path, to: &Path| MigrateOptions { from: from.into(), to: to.into(), read: ReadOptions::default() };
        assert!(run(&o(d.path(), d.path())).unwrap_err().contains("different directories"));
        let missing = d.path().join("nope");
        assert!(run(&o(&missing, &d.path().join("to"))).unwrap_err().contains("is not a directory"));
        let empty = tempfile::tempdir().unwrap();
        assert!(run(&o(empty.path(), &d.path().join("to"))).unwrap_err().contains("not a nats-streaming-server"));
    }
}
