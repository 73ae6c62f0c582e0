//! Builds this crate for `wasm32-unknown-unknown`, so `cargo test --workspace`
//! catches a browser build broken by a change in the core (the host build
//! compiles only the crate's pure parts). Uses its own target directory: the
//! outer cargo holds the lock on the main one.

use std::path::Path;
use std::process::Command;

#[test]
fn builds_for_wasm32() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().and_then(Path::parent).expect("crates/stan-wasm sits two levels down");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "-p", "stan-wasm", "--target", "wasm32-unknown-unknown"])
        .env("CARGO_TARGET_DIR", workspace.join("target").join("wasm32-build-test"))
        .current_dir(workspace)
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cargo build -p stan-wasm --target wasm32-unknown-unknown failed \
         (is the target installed? `rustup target add wasm32-unknown-unknown`):\n{stderr}"
    );
}
