//! Where the runner agrees to listen: without MicrosoftAppId it trusts every activity, so it
//! refuses an address other machines can reach.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{API_KEY, free_port};

#[test]
fn refuses_a_non_loopback_address_without_tokens() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    for addr in [format!("0.0.0.0:{port}"), format!("[::]:{port}")] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald-local"))
            .args(["--addr", &addr])
            .env_remove("MicrosoftAppId")
            .env_remove("MicrosoftAppPassword")
            .env_remove("HERALD_ADDR")
            .env("HERALD_DATA_DIR", data.path())
            .env("HERALD_API_KEY", API_KEY)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                child.kill().unwrap();
                panic!("herald-local kept running on {addr} without MicrosoftAppId");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        assert!(!output.status.success(), "{addr}: {:?}", output.status);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("refusing to listen on {addr}"))
                && stderr.contains("MicrosoftAppId"),
            "{addr}: {stderr}"
        );
    }
    // Nothing was opened on the way: the refusal comes before the store.
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
}
