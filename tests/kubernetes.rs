//! The Kubernetes files, checked offline: every manifest in `infra/k8s/`
//! against the Kubernetes schemas (kubernetes-validate, which bundles them,
//! installed by `scripts/install-kubernetes-validate.sh`), the 3-node
//! StatefulSet's parts fitting together, its `nats.conf` read by the real
//! `nats-server`, and the Helm values file using only keys the chart
//! documents, with the chart's version the docs pin.
//!
//! The files are read by a small reader for the YAML they are written in
//! ([`documents`]): block mappings and sequences, `|` blocks, comments.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{nats_server_bin, repo_root, run, text};

/// The Kubernetes version whose schemas the manifests are checked against
/// (the newest that kubernetes-validate 1.37.0 bundles).
const KUBERNETES_VERSION: &str = "1.37.0";

/// The version of the official NATS chart (nats-io/k8s, chart `nats`) that
/// the docs' `helm install` line pins, and whose values.yaml documents
/// [`CHART_KEYS`].
const CHART_VERSION: &str = "2.14.2";

/// Keys that the chart's values.yaml documents (chart version
/// [`CHART_VERSION`]), as dotted paths; the values file may set only these.
const CHART_KEYS: &[&str] = &[
    "nameOverride",
    "fullnameOverride",
    "namespaceOverride",
    "config.cluster.enabled",
    "config.cluster.port",
    "config.cluster.replicas",
    "config.cluster.noAdvertise",
    "config.jetstream.enabled",
    "config.jetstream.fileStore.enabled",
    "config.jetstream.fileStore.dir",
    "config.jetstream.fileStore.maxSize",
    "config.jetstream.fileStore.pvc.enabled",
    "config.jetstream.fileStore.pvc.size",
    "config.jetstream.fileStore.pvc.storageClassName",
    "config.jetstream.fileStore.pvc.name",
    "config.jetstream.memoryStore.enabled",
    "config.jetstream.memoryStore.maxSize",
    "config.nats.port",
    "config.monitor.enabled",
    "config.monitor.port",
    "config.serverNamePrefix",
    "container.image.repository",
    "container.image.tag",
    "container.image.pullPolicy",
    "service.enabled",
    "service.name",
    "service.ports.nats.enabled",
    "service.ports.monitor.enabled",
    "statefulSet.name",
    "headlessService.name",
    "configMap.name",
    "podDisruptionBudget.enabled",
    "podDisruptionBudget.name",
    "reloader.enabled",
    "promExporter.enabled",
    "natsBox.enabled",
];

/// The command that runs kubernetes-validate: `KUBERNETES_VALIDATE_BIN`
/// (`make test` exports it), else what `scripts/install-kubernetes-validate.sh`
/// finds or installs (once per test binary).
fn validator() -> &'static Path {
    static VALIDATOR: OnceLock<PathBuf> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        if let Some(given) = std::env::var_os("KUBERNETES_VALIDATE_BIN").filter(|v| !v.is_empty()) {
            let given = PathBuf::from(given);
            assert!(
                given.is_file(),
                "KUBERNETES_VALIDATE_BIN={} is not a file: unset it (the test then runs \
                 scripts/install-kubernetes-validate.sh), or point it at kubernetes-validate",
                given.display()
            );
            return given;
        }
        let output = run(
            Command::new(repo_root().join("scripts/install-kubernetes-validate.sh"))
                .current_dir(repo_root()),
        );
        let path = text(&output.stdout).lines().last().unwrap_or("").to_owned();
        assert!(
            output.status.success() && !path.is_empty(),
            "kubernetes-validate is not installed, and scripts/install-kubernetes-validate.sh \
             could not install it:\n{}\nRun scripts/install-kubernetes-validate.sh (it needs \
             python3 with pip, and PyPI once), or set KUBERNETES_VALIDATE_BIN",
            text(&output.stderr)
        );
        PathBuf::from(path)
    })
}

/// Runs the validator, strictly (an unknown field is an error), against
/// [`KUBERNETES_VERSION`]'s bundled schemas, on `files`.
fn validate(files: &[PathBuf]) -> std::process::Output {
    run(Command::new(validator())
        .args(["--strict", "--kubernetes-version", KUBERNETES_VERSION])
        .args(files))
}

/// Every `*.yaml` file of `infra/k8s/`, sorted.
fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("infra/k8s"))
        .expect("infra/k8s")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// One YAML document's scalars by their dotted path: sequence items are
/// numbered (`spec.template.spec.containers.0.name`), `|` blocks are one
/// value, quotes are removed.
type Document = BTreeMap<String, String>;

/// The documents of `yaml` (separated by `---`), for the block style these
/// files use: `key: value`, `key:` with the value indented below, `- ` items
/// indented under their key, `|` blocks, `#` comments, `[...]` kept as text.
fn documents(yaml: &str) -> Vec<Document> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut docs = vec![Document::new()];
    // The open mappings and items: (indent of their key or `-`, path).
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut counters: BTreeMap<String, usize> = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if line == "---" {
            docs.push(Document::new());
            open.clear();
            counters.clear();
            continue;
        }
        let mut indent = line.len() - content.len();
        let mut content = content;
        while open.last().is_some_and(|(at, _)| *at >= indent) {
            open.pop();
        }
        let mut parent = open.last().map(|(_, p)| p.clone()).unwrap_or_default();
        if let Some(item) = content
            .strip_prefix("- ")
            .or((content == "-").then_some(""))
        {
            let n = counters.entry(format!("{parent}@{indent}")).or_insert(0);
            parent = join(&parent, &n.to_string());
            *n += 1;
            open.push((indent, parent.clone()));
            indent += 2;
            content = item;
            if !content.contains(": ") && !content.ends_with(':') {
                docs.last_mut().unwrap().insert(parent, unquote(content));
                continue;
            }
        }
        let (key, value) = content
            .split_once(": ")
            .or_else(|| content.strip_suffix(':').map(|k| (k, "")))
            .unwrap_or_else(|| panic!("not a `key: value` line: {line:?}"));
        let path = join(&parent, &unquote(key));
        let value = value.trim();
        if value.is_empty() {
            open.push((indent, path));
        } else if value == "|" || value == "|-" {
            let block: Vec<&str> = lines[i..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .copied()
                .collect();
            i += block.len();
            let margin = block
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let body: Vec<&str> = block
                .iter()
                .map(|l| l.get(margin..).unwrap_or(""))
                .collect();
            docs.last_mut().unwrap().insert(path, body.join("\n"));
        } else {
            docs.last_mut().unwrap().insert(path, unquote(value));
        }
    }
    docs.retain(|doc| !doc.is_empty());
    docs
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// A scalar without its quotes and without a trailing ` # comment`.
fn unquote(value: &str) -> String {
    let value = value.trim();
    for quote in ['\'', '"'] {
        if let Some(inner) = value.strip_prefix(quote)
            && let Some(end) = inner.find(quote)
        {
            return inner[..end].to_owned();
        }
    }
    value.split(" #").next().unwrap_or(value).trim().to_owned()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_root().join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The documents of `infra/k8s/nats-js-cluster.yaml` by kind.
fn cluster_manifest() -> BTreeMap<String, Vec<Document>> {
    let mut by_kind: BTreeMap<String, Vec<Document>> = BTreeMap::new();
    for doc in documents(&read("infra/k8s/nats-js-cluster.yaml")) {
        by_kind.entry(doc["kind"].clone()).or_default().push(doc);
    }
    by_kind
}

/// Every manifest in infra/k8s validates, strictly and offline, against the
/// Kubernetes 1.37 schemas, and every resource in it is named as passed.
#[test]
fn every_manifest_in_infra_k8s_validates_against_the_kubernetes_schemas() {
    let files = manifests();
    assert!(
        files.iter().any(|f| f.ends_with("nats-js-cluster.yaml")),
        "{files:?}"
    );
    let output = validate(&files);
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{printed}");
    for file in &files {
        let relative = file
            .strip_prefix(repo_root())
            .unwrap()
            .display()
            .to_string();
        let resources = documents(&read(&relative));
        assert!(!resources.is_empty(), "{relative} holds no resource");
        for doc in resources {
            let resource = format!("{}/{}", doc["kind"].to_lowercase(), doc["metadata.name"]);
            assert!(
                printed.contains(&format!(
                    "passed for resource {resource} against version 1.37"
                )),
                "{resource} of {relative} not validated:\n{printed}"
            );
        }
    }
}

/// The check bites: a manifest with a misspelt field (`replica` for
/// `replicas`) or a field of the wrong type fails, naming the field.
#[test]
fn a_manifest_with_a_wrong_field_fails_validation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = read("infra/k8s/nats-js-cluster.yaml");
    for (from, to, says) in [
        (
            "  replicas: 3\n",
            "  replica: 3\n",
            "'replica' was unexpected",
        ),
        (
            "  replicas: 3\n",
            "  replicas: three\n",
            "'three' is not of type 'integer'",
        ),
    ] {
        assert!(good.contains(from));
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, good.replacen(from, to, 1)).expect("write");
        let output = validate(&[bad]);
        let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!output.status.success(), "{to:?} passed:\n{printed}");
        assert!(printed.contains(says), "{printed}");
    }
}

/// The StatefulSet's parts fit: 3 pods named nats-js-0..2 started in
/// parallel, the headless Service it names (no cluster IP, names published
/// before the pods are ready), a client Service and a PodDisruptionBudget
/// on the pods' label, a PVC per pod mounted at the store, readiness on
/// `/healthz?js-enabled-only=true`, and the ConfigMap's nats.conf mounted
/// where the server reads it.
#[test]
fn the_statefulset_has_three_pods_a_headless_service_a_pvc_each_and_a_pdb() {
    let kinds = cluster_manifest();
    let set = &kinds["StatefulSet"][0];
    assert_eq!(set["metadata.name"], "nats-js");
    assert_eq!(set["spec.replicas"], "3");
    assert_eq!(set["spec.podManagementPolicy"], "Parallel");
    let label = &set["spec.selector.matchLabels.app"];
    assert_eq!(&set["spec.template.metadata.labels.app"], label);

    let services = &kinds["Service"];
    let headless = services
        .iter()
        .find(|s| s["metadata.name"] == set["spec.serviceName"])
        .expect("the StatefulSet's serviceName is a Service of the file");
    assert_eq!(headless["spec.clusterIP"], "None");
    assert_eq!(headless["spec.publishNotReadyAddresses"], "true");
    let client = services
        .iter()
        .find(|s| s.get("spec.clusterIP").is_none())
        .expect("a client Service");
    for service in [headless, client] {
        assert_eq!(&service["spec.selector.app"], label);
    }
    let client_ports: Vec<&String> = (0..2)
        .map(|i| &client[&format!("spec.ports.{i}.port")])
        .collect();
    assert_eq!(client_ports, ["4222", "8222"]);

    let pdb = &kinds["PodDisruptionBudget"][0];
    assert_eq!(&pdb["spec.selector.matchLabels.app"], label);
    assert_eq!(pdb["spec.maxUnavailable"], "1");

    let container = "spec.template.spec.containers.0";
    assert_eq!(
        set[&format!("{container}.readinessProbe.httpGet.path")],
        "/healthz?js-enabled-only=true"
    );
    let claim = &set["spec.volumeClaimTemplates.0.metadata.name"];
    let mounts: BTreeMap<&str, &str> = (0..2)
        .map(|i| {
            let mount = format!("{container}.volumeMounts.{i}");
            (
                set[&format!("{mount}.name")].as_str(),
                set[&format!("{mount}.mountPath")].as_str(),
            )
        })
        .collect();
    assert_eq!(mounts[claim.as_str()], "/data", "the PVC holds the store");
    assert_eq!(mounts["config"], "/etc/nats-config");
    let config_map = &kinds["ConfigMap"][0];
    assert_eq!(
        set["spec.template.spec.volumes.0.configMap.name"],
        config_map["metadata.name"]
    );
    assert!(set[&format!("{container}.args")].contains("/etc/nats-config/nats.conf"));
}

/// The ConfigMap's nats.conf routes to every pod through the headless
/// Service's DNS names, keeps the store on the PVC and the monitoring port
/// on 8222, and the real nats-server reads it without an error (`-t`).
#[test]
fn the_configmap_nats_conf_routes_to_every_pod_and_nats_server_accepts_it() {
    let kinds = cluster_manifest();
    let set = &kinds["StatefulSet"][0];
    let conf = &kinds["ConfigMap"][0]["data.nats.conf"];
    let replicas: usize = set["spec.replicas"].parse().expect("replicas");
    for i in 0..replicas {
        let route = format!(
            "nats://{}-{i}.{}:6222",
            set["metadata.name"], set["spec.serviceName"]
        );
        assert!(conf.contains(&route), "no route {route}:\n{conf}");
    }
    assert!(conf.contains("store_dir: /data"), "{conf}");
    assert!(conf.contains("http_port: 8222"), "{conf}");

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("nats.conf");
    std::fs::write(&file, conf).expect("write nats.conf");
    let output = run(Command::new(nats_server_bin())
        .arg("-c")
        .arg(&file)
        .arg("-t")
        .env("POD_NAME", "nats-js-0"));
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("is valid"), "{printed}");
}

/// The Helm values file sets only keys the chart (version CHART_VERSION)
/// documents, among them the 3-node JetStream cluster on a PVC per pod and
/// the monitoring port, under names that are not the course's; its
/// install line and docs/kubernetes.md pin that chart version.
#[test]
fn helm_values_use_only_keys_the_chart_documents() {
    let values = read("infra/helm/nats-values.yaml");
    let docs = documents(&values);
    assert_eq!(docs.len(), 1);
    let set = &docs[0];
    let unknown: Vec<&String> = set
        .keys()
        .filter(|key| !CHART_KEYS.contains(&key.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "keys the chart {CHART_VERSION} does not document: {unknown:?}"
    );
    for (key, value) in [
        ("config.cluster.enabled", "true"),
        ("config.cluster.replicas", "3"),
        ("config.jetstream.enabled", "true"),
        ("config.jetstream.fileStore.pvc.enabled", "true"),
        ("config.monitor.enabled", "true"),
        ("config.monitor.port", "8222"),
    ] {
        assert_eq!(set.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert!(set.contains_key("config.jetstream.fileStore.pvc.size"));
    let name = &set["fullnameOverride"];
    assert!(
        !["nats-depl", "nats-srv", "nats-js", "nats-js-depl"].contains(&name.as_str()),
        "{name}"
    );
    let pinned = format!("nats/nats --version {CHART_VERSION}");
    assert!(
        values.contains(&pinned),
        "the values file's install line pins {pinned}"
    );
    let doc = read("docs/kubernetes.md");
    assert!(doc.contains(&pinned), "docs/kubernetes.md pins {pinned}");
    assert!(doc.contains("-f infra/helm/nats-values.yaml"));
}

/// The reader of these files: nested keys, numbered sequence items (of
/// mappings and of scalars), `|` blocks, quotes and comments.
#[test]
fn the_yaml_reader_reads_keys_items_and_blocks() {
    let yaml = "# comment\na:\n  b: 'x' # note\n  list:\n    - name: one\n      port: 1\n    - two\n  text: |\n    line 1\n      line 2\nc: 3\n---\nd: \"4\"\n";
    let docs = documents(yaml);
    let first: Vec<(&str, &str)> = docs[0]
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        first,
        [
            ("a.b", "x"),
            ("a.list.0.name", "one"),
            ("a.list.0.port", "1"),
            ("a.list.1", "two"),
            ("a.text", "line 1\n  line 2"),
            ("c", "3"),
        ]
    );
    assert_eq!(docs[1]["d"], "4");
}
