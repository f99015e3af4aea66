//! `scripts/port-forward.sh` with a stand-in `kubectl`: how it finds the NATS
//! pod, what it forwards, and what it says when it can't.
//!
//! The stand-in is a bash script put first on `PATH`. It appends each call's
//! arguments to a log file, prints the pod lists the test chose
//! (`CLUSTER_PODS` for `-l app=nats-js-cluster`, the StatefulSet of
//! `infra/k8s/nats-js-cluster.yaml`; `HELM_PODS` for the NATS Helm chart's
//! labels; `JS_PODS` for `-l app=nats-js`, `LABELLED_PODS` for `-l app=nats`,
//! `ALL_PODS` otherwise)
//! and returns at once from `port-forward`, where the real one would run until
//! Ctrl-C. Each test forwards to local ports that were free when it began
//! (the script refuses ports in use), unless it is about the ports.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::{free_ports, run, script, text};

const FAKE_KUBECTL: &str = r#"#!/usr/bin/env bash
echo "$*" >>"$KUBECTL_LOG"
if [[ -n "${KUBECTL_FAIL:-}" ]]; then
    echo "The connection to the server localhost:8080 was refused" >&2
    exit 1
fi
case "$*" in
*"-l app=nats-js-cluster"*) printf '%b' "${CLUSTER_PODS:-}" ;;
*"-l app.kubernetes.io/name=nats,app.kubernetes.io/component=nats"*) printf '%b' "${HELM_PODS:-}" ;;
*"-l app=nats-js"*) printf '%b' "${JS_PODS:-}" ;;
*"-l app=nats"*) printf '%b' "${LABELLED_PODS:-}" ;;
"get pods"*) printf '%b' "${ALL_PODS:-}" ;;
"port-forward "*) echo "Forwarding from 127.0.0.1:4222 -> 4222" ;;
esac
"#;

/// A temp folder holding the stand-in `kubectl` and the log of its calls,
/// and the free local ports the script is given.
struct FakeKubectl {
    dir: tempfile::TempDir,
    port: u16,
    monitor_port: u16,
}

impl FakeKubectl {
    fn new() -> FakeKubectl {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("kubectl");
        std::fs::write(&path, FAKE_KUBECTL).expect("write kubectl");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let ports = free_ports(2);
        FakeKubectl {
            dir,
            port: ports[0],
            monitor_port: ports[1],
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("calls")
    }

    /// Runs the script with the stand-in first on PATH, the free local
    /// ports, an empty `.nats` folder, and `env` set (which may override them).
    fn run(&self, env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        run(port_forward(&path)
            .env("KUBECTL_LOG", self.log())
            .env("LOCAL_PORT", self.port.to_string())
            .env("LOCAL_MONITOR_PORT", self.monitor_port.to_string())
            .env("NATS_DIR", self.dir.path().join("nats"))
            .envs(env.iter().copied()))
    }

    /// What the script forwards: `<local>:4222 <local monitor>:8222`.
    fn ports(&self) -> String {
        format!("{}:4222 {}:8222", self.port, self.monitor_port)
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
fn port_forward(path: &str) -> Command {
    let mut command = script("port-forward.sh");
    command
        .env("PATH", path)
        .env_remove("POD")
        .env_remove("LOCAL_PORT")
        .env_remove("LOCAL_MONITOR_PORT");
    command
}

/// Fails the test unless the script exited 1 with each of `texts` in its message.
fn assert_fails_saying(output: &Output, texts: &[&str]) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for text in texts {
        assert!(
            stderr.contains(text),
            "stderr should contain {text:?}:\n{stderr}"
        );
    }
}

/// The pod labelled app=nats is forwarded on the local ports, and the URL
/// to use is printed before kubectl takes over.
#[test]
fn forwards_the_pod_labelled_app_nats_and_prints_the_url() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[("LABELLED_PODS", "pod/nats-depl-6d8f9c7b5-x2k4q\n")]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let calls = kubectl.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("get pods") && c.ends_with("-l app=nats")),
        "{calls:?}"
    );
    assert_eq!(
        kubectl.port_forward(),
        Some(format!(
            "port-forward nats-depl-6d8f9c7b5-x2k4q {}",
            kubectl.ports()
        ))
    );
    let stdout = text(&output.stdout);
    let url = stdout
        .find(&format!("NATS_URL=nats://localhost:{}", kubectl.port))
        .expect(&stdout);
    let forwarding = stdout.find("Forwarding from").expect(&stdout);
    assert!(
        url < forwarding,
        "the URL comes before kubectl's output:\n{stdout}"
    );
}

/// A pod labelled app=nats-js (infra/k8s/nats-js-depl.yaml, the JetStream
/// server next to the course's NATS Streaming one) is preferred to the
/// course's pod labelled app=nats.
#[test]
fn prefers_the_jetstream_pod_next_to_the_course_server() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[
        ("JS_PODS", "pod/nats-js-depl-5b7c9-abcde\n"),
        ("LABELLED_PODS", "pod/nats-depl-6d8f9c7b5-x2k4q\n"),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        kubectl.port_forward(),
        Some(format!(
            "port-forward nats-js-depl-5b7c9-abcde {}",
            kubectl.ports()
        ))
    );
}

/// The StatefulSet of infra/k8s/nats-js-cluster.yaml runs (pods nats-js-0
/// to 2, listed in any order): its pod with the lowest number, nats-js-0,
/// is forwarded, in preference to the single servers' pods, and the script
/// says which pods it found and which one it forwards.
#[test]
fn forwards_a_statefulset_pod_and_says_which() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[
        (
            "CLUSTER_PODS",
            "pod/nats-js-1\npod/nats-js-0\npod/nats-js-2\n",
        ),
        ("JS_PODS", "pod/nats-js-depl-5b7c9-abcde\n"),
        ("LABELLED_PODS", "pod/nats-depl-6d8f9c7b5-x2k4q\n"),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        kubectl.port_forward(),
        Some(format!("port-forward nats-js-0 {}", kubectl.ports()))
    );
    assert_eq!(
        kubectl.calls()[0],
        "get pods --field-selector=status.phase=Running -o name -l app=nats-js-cluster"
    );
    let stdout = text(&output.stdout);
    for says in [
        "Found 3 running pods of a JetStream cluster (the StatefulSet of \
         infra/k8s/nats-js-cluster.yaml, nats-js): nats-js-1 nats-js-0 nats-js-2",
        "forwarding nats-js-0",
        "Forwarding the NATS pod nats-js-0",
    ] {
        assert!(
            stdout.contains(says),
            "stdout should contain {says:?}:\n{stdout}"
        );
    }
}

/// A release of the official NATS Helm chart (pods labelled
/// app.kubernetes.io/name=nats and app.kubernetes.io/component=nats, with
/// infra/helm/nats-values.yaml named nats-helm-0 to 2): its first pod is
/// forwarded, and the script says so.
#[test]
fn forwards_a_pod_of_the_helm_release_and_says_which() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[
        (
            "HELM_PODS",
            "pod/nats-helm-2\npod/nats-helm-0\npod/nats-helm-1\n",
        ),
        ("LABELLED_PODS", "pod/nats-depl-6d8f9c7b5-x2k4q\n"),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        kubectl.port_forward(),
        Some(format!("port-forward nats-helm-0 {}", kubectl.ports()))
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("(a release of the NATS Helm chart, nats-helm)")
            && stdout.contains("forwarding nats-helm-0"),
        "{stdout}"
    );
}

/// Pods of two clusters (two Helm releases): exit 1, listing them and how to
/// choose one, and forward nothing.
#[test]
fn pods_of_two_clusters_exit_1_listing_them() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[("HELM_PODS", "pod/nats-helm-0\npod/other-nats-0\n")]);
    assert_fails_saying(
        &output,
        &[
            "found 2 NATS pods",
            "  nats-helm-0\n  other-nats-0\n",
            "POD=nats-helm-0 make port-forward",
        ],
    );
    assert_eq!(kubectl.port_forward(), None);
}

/// With no pod labelled app=nats-js or app=nats, a pod whose name starts
/// with nats-depl (the course's Deployment) is forwarded.
#[test]
fn falls_back_to_the_pod_named_nats_depl() {
    let kubectl = FakeKubectl::new();
    let all =
        "pod/auth-depl-5c9d8-abcde\npod/nats-depl-7f6b9-qwert\npod/tickets-depl-1a2b3-zxcvb\n";
    let output = kubectl.run(&[("ALL_PODS", all)]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        kubectl.port_forward(),
        Some(format!(
            "port-forward nats-depl-7f6b9-qwert {}",
            kubectl.ports()
        ))
    );
}

/// Without LOCAL_PORT and LOCAL_MONITOR_PORT the local ports are 4222 and
/// 8222, as in the course; if this machine already uses one of them, the
/// script says so instead of forwarding.
#[test]
fn default_local_ports_are_4222_and_8222() {
    let kubectl = FakeKubectl::new();
    let free = |port| TcpListener::bind(("127.0.0.1", port)).is_ok();
    let both_free = free(4222) && free(8222);
    let path = format!(
        "{}:{}",
        kubectl.dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = run(port_forward(&path)
        .env("KUBECTL_LOG", kubectl.log())
        .env("LABELLED_PODS", "pod/nats-depl-1\n"));
    if both_free {
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert_eq!(
            kubectl.port_forward().as_deref(),
            Some("port-forward nats-depl-1 4222:4222 8222:8222")
        );
        assert!(text(&output.stdout).contains("NATS_URL=nats://localhost:4222"));
    } else {
        assert_fails_saying(&output, &["is already in use"]);
        assert_eq!(kubectl.port_forward(), None);
    }
}

/// LOCAL_PORT and LOCAL_MONITOR_PORT choose the local ports, and the printed
/// URLs follow.
#[test]
fn local_ports_can_be_changed() {
    let kubectl = FakeKubectl::new();
    let ports = free_ports(2);
    let (port, monitor_port) = (ports[0].to_string(), ports[1].to_string());
    let output = kubectl.run(&[
        ("LABELLED_PODS", "pod/nats-depl-1\n"),
        ("LOCAL_PORT", &port),
        ("LOCAL_MONITOR_PORT", &monitor_port),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        kubectl.port_forward(),
        Some(format!(
            "port-forward nats-depl-1 {port}:4222 {monitor_port}:8222"
        ))
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!("NATS_URL=nats://localhost:{port}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("NATS_MONITOR_URL=http://localhost:{monitor_port}")),
        "{stdout}"
    );
}

/// A local port already in use (by this test, here): exit 1 before any
/// kubectl call, naming the port, its setting, and how to pick another.
#[test]
fn a_taken_local_port_is_named_and_nothing_is_forwarded() {
    let kubectl = FakeKubectl::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().unwrap().port().to_string();

    let output = kubectl.run(&[
        ("LABELLED_PODS", "pod/nats-depl-1\n"),
        ("LOCAL_PORT", &port),
    ]);
    assert_fails_saying(
        &output,
        &[
            &format!("localhost:{port} (LOCAL_PORT, the client port) is already in use"),
            "LOCAL_PORT=",
        ],
    );
    assert_eq!(kubectl.calls(), Vec::<String>::new(), "kubectl never ran");

    let output = kubectl.run(&[
        ("LABELLED_PODS", "pod/nats-depl-1\n"),
        ("LOCAL_MONITOR_PORT", &port),
    ]);
    assert_fails_saying(
        &output,
        &[&format!(
            "localhost:{port} (LOCAL_MONITOR_PORT, the monitoring port) is already in use"
        )],
    );
    assert_eq!(kubectl.calls(), Vec::<String>::new(), "kubectl never ran");
}

/// The local server from `make server` holds the ports: the script says so
/// and how to stop it (`make server-stop`, with its NATS_PORT), for the
/// client port and for the monitoring port.
#[test]
fn ports_held_by_make_server_say_make_server_stop() {
    let kubectl = FakeKubectl::new();
    let nats_dir = tempfile::tempdir().expect("temp dir");
    let ports = free_ports(2);
    let server = |command: &str| {
        run(script("nats-server.sh")
            .arg(command)
            .env("NATS_PORT", ports[0].to_string())
            .env("NATS_MONITOR_PORT", ports[1].to_string())
            .env("NATS_DIR", nats_dir.path()))
    };
    struct Stop<F: Fn(&str) -> Output>(F);
    impl<F: Fn(&str) -> Output> Drop for Stop<F> {
        fn drop(&mut self) {
            (self.0)("stop");
        }
    }
    let started = server("start");
    assert!(started.status.success(), "{}", text(&started.stderr));
    let _stop = Stop(server);

    let nats_dir_path = nats_dir.path().display().to_string();
    for (setting, port) in [("LOCAL_PORT", ports[0]), ("LOCAL_MONITOR_PORT", ports[1])] {
        let port = port.to_string();
        let output = kubectl.run(&[
            ("LABELLED_PODS", "pod/nats-depl-1\n"),
            (setting, &port),
            ("NATS_DIR", &nats_dir_path),
        ]);
        assert_fails_saying(
            &output,
            &[
                &format!("localhost:{port} ({setting}"),
                "the local NATS server from `make server`",
                &format!("NATS_PORT={} make server-stop", ports[0]),
            ],
        );
        assert_eq!(kubectl.port_forward(), None);
    }
}

/// POD names the pod to forward, with or without "pod/", and skips the search.
#[test]
fn pod_variable_chooses_the_pod() {
    let kubectl = FakeKubectl::new();
    let output = kubectl.run(&[
        ("LABELLED_PODS", "pod/nats-depl-1\npod/nats-depl-2\n"),
        ("POD", "pod/nats-depl-2"),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        kubectl.calls(),
        [format!("port-forward nats-depl-2 {}", kubectl.ports())]
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
            "kubectl apply -f infra/k8s/nats-js-cluster.yaml",
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
    let output = run(&mut port_forward(&only_bash.path().display().to_string()));
    assert_fails_saying(
        &output,
        &[
            "kubectl not found on your PATH",
            "https://kubernetes.io/docs/tasks/tools/",
        ],
    );
}
