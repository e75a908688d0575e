//! Herald's function binaries (`target/debug/herald-{webhook,notify,sender,scheduler}`, the same
//! `main.rs` cargo-lambda packages as `bootstrap`): found next to the running executable, and
//! built with `cargo build` when missing or older than their sources, once at a time across
//! processes (a file lock), so `cargo test -p herald-lambda-bed` works from a clean tree.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::BedError;

/// The packages (and binaries) of Herald's four functions.
pub const FUNCTION_BINARIES: [&str; 4] = [
    "herald-webhook",
    "herald-notify",
    "herald-sender",
    "herald-scheduler",
];

/// The workspace root (this crate lives in `tests/lambda-bed`).
#[must_use]
pub fn workspace_root() -> PathBuf {
    herald_deploy_tests::workspace_root()
}

/// The profile directory the running executable was built into (`target/debug`): its own
/// directory, or the parent of `deps/` for a test executable.
pub fn profile_dir() -> Result<PathBuf, BedError> {
    let exe = std::env::current_exe().map_err(BedError::Io)?;
    let dir = exe
        .parent()
        .ok_or_else(|| BedError::Build("the executable has no directory".into()))?;
    Ok(if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    })
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the Rust sources and manifests under `dir`.
fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != "tests" && name != "benches" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs")
                || name == "Cargo.toml"
                || name == "openapi.json"
            {
                newest = newest.max(modified(&path));
            }
        }
    }
    newest
}

/// Whether every function binary exists in `dir` and is newer than the sources it is built from.
fn fresh(dir: &Path, root: &Path) -> bool {
    let sources = [root.join("functions"), root.join("shared")]
        .iter()
        .filter_map(|d| newest_source(d))
        .chain(modified(&root.join("Cargo.lock")))
        .max();
    FUNCTION_BINARIES.iter().all(|name| {
        modified(&dir.join(name)).is_some_and(|built| sources.is_none_or(|s| built >= s))
    })
}

/// The directory holding fresh function binaries, building them first when needed (checked
/// once per process).
pub fn function_binaries() -> Result<PathBuf, BedError> {
    static FOUND: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut found = FOUND
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(dir) = found.as_ref() {
        return Ok(dir.clone());
    }
    let dir = ensure_built()?;
    *found = Some(dir.clone());
    Ok(dir)
}

fn ensure_built() -> Result<PathBuf, BedError> {
    let dir = profile_dir()?;
    let root = workspace_root();
    if fresh(&dir, &root) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(BedError::Io)?;
    let lock = std::fs::File::create(dir.join(".herald-lambda-bed.lock")).map_err(BedError::Io)?;
    lock.lock().map_err(BedError::Io)?;
    // Another process may have built them while this one waited for the lock.
    if !fresh(&dir, &root) {
        build(&dir, &root)?;
    }
    drop(lock);
    Ok(dir)
}

fn build(dir: &Path, root: &Path) -> Result<(), BedError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target_dir = dir
        .parent()
        .ok_or_else(|| BedError::Build("no target directory".into()))?;
    let release = dir.file_name().is_some_and(|n| n == "release");
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(root)
        .arg("build")
        .arg("--target-dir")
        .arg(target_dir);
    if release {
        // `target/release` holds both the release and the bench profile's builds; the bench
        // profile skips fat LTO, so a `cargo bench` of the bed builds the functions in minutes
        // and shares the dependencies the bench itself was built with.
        command.arg("--profile").arg("bench");
    }
    for package in FUNCTION_BINARIES {
        command.arg("-p").arg(package);
    }
    tracing::info!(?command, "building the function binaries");
    let status = command
        .status()
        .map_err(|e| BedError::Build(format!("cannot run cargo: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(BedError::Build(format!("cargo build exited with {status}")))
    }
}
