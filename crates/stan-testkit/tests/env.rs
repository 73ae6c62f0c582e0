//! The testkit against real binaries: start, restart, and cleanup by PID.

use stan_testkit::{StanEnv, StanImpl};

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

#[test]
fn starts_restarts_and_kills_its_children() {
    let mut env = StanEnv::start("kit-cluster", &["-hbi", "1s", "-hbt", "1s", "-hbf", "2"]);
    assert!(env.nats_url().starts_with("nats://127.0.0.1:"));
    let nats_pid = env.nats().pid().unwrap();
    let stan_pid = env.stan().pid().unwrap();
    assert!(alive(nats_pid) && alive(stan_pid));

    env.restart_stan();
    let stan_pid2 = env.stan().pid().unwrap();
    assert_ne!(stan_pid, stan_pid2);
    assert!(!alive(stan_pid));

    env.restart_nats();
    let nats_pid2 = env.nats().pid().unwrap();
    assert_ne!(nats_pid, nats_pid2);
    assert!(alive(stan_pid2), "the STAN server survives a nats-server restart");

    drop(env);
    assert!(!alive(nats_pid2) && !alive(stan_pid2));
}

#[test]
fn implementation_comes_from_the_environment() {
    // Only checks the parsing; which binary runs is the caller's choice.
    let which = StanImpl::from_env();
    assert!(matches!(which, StanImpl::Ours | StanImpl::Reference));
}
