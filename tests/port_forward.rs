//! `scripts/port-forward.sh` with a stand-in `kubectl`: how it finds the NATS
//! pod, what it forwards, and what it says when it can't.
//!
//! The stand-in is a bash script put first on `PATH`. It appends each call's
//! arguments to a log file, prints the pod lists the test chose (`LABELLED_PODS`
//! for `-l app=nats`, `ALL_PODS` otherwise) and returns at once from
//! `port-forward`, where the real one would run until Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FAKE_KUBECTL: &str = r#"#!/usr/bin/env bash
echo "$*" >>"$KUBECTL_LOG"
if [[ -n "${KUBECTL_FAIL:-}" ]]; then
    echo "The connection to the server localhost:8080 was refused" >&2
    exit 1
fi
case "$*" in
*"-l app=nats"*) printf '%b' "${LABELLED_PODS:-}" ;;
"get pods"*) printf '%b' "${ALL_PODS:-}" ;;
"port-forward "*) echo "Forwarding from 127.0.0.1:4222 -> 4222" ;;
esac
"#;

/// A temp folder holding the stand-in `kubectl` and the log of its calls.
struct FakeKubectl {
    dir: tempfile::TempDir,
}

impl FakeKubectl {
    fn new() -> FakeKubectl {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("kubectl");
        std::fs::write(&path, FAKE_KUBECTL).expect("write kubectl");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        FakeKubectl { dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("calls")
    }

    /// Runs the script with the stand-in first on PATH and `env` set.
    fn run(&self, env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        script(&path)
            .env("KUBECTL_LOG", self.log())
            .envs(env.iter().copied())
            .output()
            .expect("run port-forward.sh")
    }

    /// The arguments of the `kubectl port-forward` call, if there was one.
    fn port_forward(&self) -> Option<String> {
        self.calls()
            .into_iter()
            .find(|call| call.starts_with("port-forward"))
    }

    /// The arguments of each call, in order.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

/// The script, with `PATH` set and no settings inherited from the caller.
fn script(path: &str) -> Command {
    let mut command =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/port-forward.sh"));
    command
        .env("PATH", path)
        .env_remove("POD")
        .env_remove("LOCAL_PORT")
        .env_remove("LOCAL_MONITOR_PORT");
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails the test unless the script exited 1 with each of `texts` in its message.
fn assert_fails_saying(output: &Output, texts: &[&str]) {
    let stderr = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for text in texts {
        assert!(
            stderr.contains(text),
            "stderr should contain {text:?}:\n{stderr}"
        );
    }
}

/// The pod labelled app=nats is forwarded on 4222 and 8222, and the URL to
/// use is printed before kubectl takes over.
#[test]
fn forwards_the_pod_labelled_app_nats_and_prints_the_url() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[("LABELLED_PODS", "pod/nats-depl-6d8f9c7b5-x2k4q\n")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let calls = kubectl.calls();
    assert!(
        calls[0].starts_with("get pods") && calls[0].contains("-l app=nats"),
        "{calls:?}"
    );
    assert_eq!(
        kubectl.port_forward().as_deref(),
        Some("port-forward nats-depl-6d8f9c7b5-x2k4q 4222:4222 8222:8222")
    );
    let stdout = stdout(&output);
    let url = stdout
        .find("NATS_URL=nats://localhost:4222")
        .expect(&stdout);
    let forwarding = stdout.find("Forwarding from").expect(&stdout);
    assert!(
        url < forwarding,
        "the URL comes before kubectl's output:\n{stdout}"
    );
}

/// With no pod labelled app=nats, a pod whose name starts with nats-depl (the
/// course's Deployment) is forwarded.
#[test]
fn falls_back_to_the_pod_named_nats_depl() {
    let kubectl = FakeKubectl::new();
    let all =
        "pod/auth-depl-5c9d8-abcde\npod/nats-depl-7f6b9-qwert\npod/tickets-depl-1a2b3-zxcvb\n";
    let output = kubectl.run(&[("ALL_PODS", all)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        kubectl.port_forward().as_deref(),
        Some("port-forward nats-depl-7f6b9-qwert 4222:4222 8222:8222")
    );
}

/// LOCAL_PORT and LOCAL_MONITOR_PORT choose the local ports, and the printed
/// URL follows.
#[test]
fn local_ports_can_be_changed() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[
        ("LABELLED_PODS", "pod/nats-depl-1\n"),
        ("LOCAL_PORT", "4333"),
        ("LOCAL_MONITOR_PORT", "8333"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        kubectl.port_forward().as_deref(),
        Some("port-forward nats-depl-1 4333:4222 8333:8222")
    );
    assert!(stdout(&output).contains("NATS_URL=nats://localhost:4333"));
}

/// POD names the pod to forward, with or without "pod/", and skips the search.
#[test]
fn pod_variable_chooses_the_pod() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[
        ("LABELLED_PODS", "pod/nats-depl-1\npod/nats-depl-2\n"),
        ("POD", "pod/nats-depl-2"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        kubectl.calls(),
        ["port-forward nats-depl-2 4222:4222 8222:8222"]
    );
}

/// No NATS pod at all: exit 1, saying how to deploy one or name it, and
/// forward nothing.
#[test]
fn no_nats_pod_exits_1_saying_how_to_deploy_one() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[("ALL_PODS", "pod/auth-depl-5c9d8-abcde\n")]);
    assert_fails_saying(
        &output,
        &[
            "no running NATS pod found",
            "kubectl apply -f infra/k8s/nats-depl.yaml",
            "POD=<pod name> make port-forward",
        ],
    );
    assert_eq!(kubectl.port_forward(), None);
}

/// Several NATS pods: exit 1, listing them and how to choose one, and forward
/// nothing.
#[test]
fn several_nats_pods_exit_1_listing_them() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[("LABELLED_PODS", "pod/nats-depl-1\npod/nats-depl-2\n")]);
    assert_fails_saying(
        &output,
        &[
            "found 2 NATS pods",
            "  nats-depl-1\n  nats-depl-2\n",
            "POD=nats-depl-1 make port-forward",
        ],
    );
    assert_eq!(kubectl.port_forward(), None);
}

/// kubectl can't reach a cluster: exit 1, pointing at kubectl's context.
#[test]
fn kubectl_error_exits_1_pointing_at_the_cluster() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[("KUBECTL_FAIL", "1")]);
    assert_fails_saying(
        &output,
        &[
            "kubectl could not list the pods",
            "kubectl config current-context",
        ],
    );
    assert_eq!(kubectl.calls().len(), 1, "stops after the failed call");
}

/// No kubectl on PATH: exit 1, saying to install it. PATH holds only bash.
#[test]
fn missing_kubectl_exits_1_saying_to_install_it() {
    let bash = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("bash"))
        .find(|path| path.is_file())
        .expect("bash on PATH");
    let only_bash = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(&bash, only_bash.path().join("bash")).expect("symlink bash");
    let output = script(&only_bash.path().display().to_string())
        .output()
        .expect("run port-forward.sh");
    assert_fails_saying(
        &output,
        &[
            "kubectl not found on your PATH",
            "https://kubernetes.io/docs/tasks/tools/",
        ],
    );
}
