fn main() {
    napi_build::setup();
    // The unit tests link into an executable, where the N-API symbols (which
    // Node provides to the loaded addon) do not exist; they never call them.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg=-Wl,--unresolved-symbols=ignore-in-object-files");
        println!("cargo:rustc-link-arg=-Wl,-z,lazy");
    }
}
