//! A `nats-server` on `PATH` that is a launcher script, as a pyenv shim is:
//! it picks the program to run by the name it is called by, and fails when
//! called by another. The suite's server helper and
//! `scripts/install-nats-server.sh` find the binary behind it, so that the
//! tests that start nats-server under another name (`kubectl`) still can.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{NatsServer, accepts, find_nats_server, nats_server_bin, repo_root, text};

/// A folder whose `nats-server` is a launcher script in front of the real
/// one: called by any other name, it fails as a pyenv shim does.
struct Launcher {
    dir: tempfile::TempDir,
}

impl Launcher {
    fn new() -> Launcher {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = format!(
            "#!/usr/bin/env bash\n\
             case \"$(basename \"$0\")\" in\n\
             nats-server) exec '{}' \"$@\" ;;\n\
             *) echo \"Error: flags cannot be placed before plugin name: $1\" >&2; exit 1 ;;\n\
             esac\n",
            nats_server_bin().display()
        );
        let program = dir.path().join("nats-server");
        std::fs::write(&program, script).expect("write the launcher");
        std::fs::set_permissions(
            &program,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("make the launcher executable");
        Launcher { dir }
    }

    /// `PATH` with the launcher's folder first.
    fn path(&self) -> OsString {
        let rest = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::iter::once(self.dir.path().to_owned()).chain(std::env::split_paths(&rest));
        std::env::join_paths(dirs).expect("PATH")
    }

    /// The nats-server the suite's helper finds with only the launcher to
    /// go by: no `NATS_SERVER_BIN`, no `.nats/bin/nats-server`.
    fn found(&self) -> PathBuf {
        find_nats_server(
            None,
            Path::new("/nonexistent/nats-server"),
            Some(self.path()),
        )
    }
}

/// With a launcher script first on `PATH`, the suite's helper starts a
/// server through what it found.
#[test]
fn the_server_helper_starts_a_server_found_behind_a_launcher() {
    let launcher = Launcher::new();
    let server = NatsServer::start_as(&launcher.found(), &["-js"]);
    assert!(accepts(server.port()), "the server listens");
}

/// With a launcher script first on `PATH`, the suite's helper still starts
/// a server whose process is named `kubectl` (as `scripts/nats-server.sh
/// ensure` sees a port-forward), which the launcher itself would refuse.
#[test]
fn the_server_helper_starts_a_kubectl_named_server_behind_a_launcher() {
    let launcher = Launcher::new();
    let server = NatsServer::start_named(&launcher.found(), "kubectl", &["-js"]);
    assert!(accepts(server.port()), "the server listens");
    let name = std::fs::read_to_string(format!("/proc/{}/comm", server.pid())).expect("comm");
    assert_eq!(name.trim(), "kubectl", "the process's name");
}

/// With a launcher script first on `PATH` and nothing else to go by,
/// `scripts/install-nats-server.sh` hands back the binary behind it, not
/// the launcher.
#[test]
fn install_script_hands_back_the_binary_behind_a_launcher() {
    let launcher = Launcher::new();
    // A copy of the script (and the helpers it sources) in a repository of
    // its own, without .nats/bin.
    let repo = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(repo.path().join("scripts/lib")).expect("mkdir scripts/lib");
    for file in ["scripts/install-nats-server.sh", "scripts/lib/install.sh"] {
        std::fs::copy(repo_root().join(file), repo.path().join(file)).expect("copy the script");
    }
    let script = repo.path().join("scripts/install-nats-server.sh");
    let output = common::run(
        Command::new(&script)
            .env_remove("NATS_SERVER_BIN")
            .env("PATH", launcher.path()),
    );
    assert!(
        output.status.success(),
        "install-nats-server.sh failed: {}",
        text(&output.stderr)
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        stdout.lines().last().map(PathBuf::from),
        Some(nats_server_bin()),
        "stderr: {}",
        text(&output.stderr)
    );
}
