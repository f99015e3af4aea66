//! natscli contexts: `--context NAME`, `NATS_CONTEXT`, or the context
//! selected with `nats context select`.
//!
//! The `nats` CLI keeps each context in `~/.config/nats/context/NAME.json`
//! (`$XDG_CONFIG_HOME/nats/...` when that is set), and the name of the
//! selected one in `~/.config/nats/context.txt`. A context gives the server
//! URL and the credentials; a flag or variable given here (`--server`,
//! `NATS_URL`, `--user`, ...) wins over it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{MAX_NAME_BYTES, ca_file, cert_file, creds_file, key_file};
use nats_course_toolkit::connection;

/// The largest context file read: natscli writes a few hundred bytes.
pub const MAX_CONTEXT_BYTES: u64 = 64 * 1024;

/// How many context names an error lists.
const LISTED: usize = 20;

/// A natscli context, read and checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsContext {
    /// Its name.
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// `url`: one or more server URLs, comma-separated.
    pub url: Option<String>,
    /// `user` and `password`.
    pub user: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `token`.
    pub token: Option<String>,
    /// `creds`: a credentials file.
    pub creds: Option<PathBuf>,
    /// `cert`: a client certificate.
    pub cert: Option<PathBuf>,
    /// `key`: the client certificate's key.
    pub key: Option<PathBuf>,
    /// `ca`: a CA certificate.
    pub ca: Option<PathBuf>,
    /// The keys it sets that the toolkit does not support.
    pub unsupported: Vec<&'static str>,
}

impl std::fmt::Debug for NatsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No password or token: Debug output may reach a log.
        f.debug_struct("NatsContext")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl NatsContext {
    /// No context: every field unset.
    pub fn none() -> NatsContext {
        NatsContext {
            name: String::new(),
            path: PathBuf::new(),
            url: None,
            user: None,
            password: None,
            token: None,
            creds: None,
            cert: None,
            key: None,
            ca: None,
            unsupported: Vec::new(),
        }
    }
}

/// natscli's context file: the keys it writes. Empty strings mean unset.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ContextFile {
    url: String,
    user: String,
    password: String,
    token: String,
    creds: String,
    cert: String,
    key: String,
    ca: String,
    // Keys natscli knows that this toolkit does not support.
    nkey: String,
    nsc: String,
    user_jwt: String,
    jetstream_domain: String,
    jetstream_api_prefix: String,
    jetstream_event_prefix: String,
    inbox_prefix: String,
    socks_proxy: String,
    tls_first: bool,
    windows_cert_store: String,
}

/// natscli's folder: `$XDG_CONFIG_HOME/nats`, or `~/.config/nats`.
fn nats_config_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    match non_empty("XDG_CONFIG_HOME") {
        Some(config) => Some(PathBuf::from(config).join("nats")),
        None => non_empty("HOME").map(|home| PathBuf::from(home).join(".config/nats")),
    }
}

/// The context selected with `nats context select`, if any.
pub fn selected() -> Option<String> {
    let path = nats_config_dir()?.join("context.txt");
    let bytes = connection::read_at_most(&path, MAX_NAME_BYTES as u64, "").ok()?;
    let name = String::from_utf8(bytes).ok()?.trim().to_owned();
    (!name.is_empty()).then_some(name)
}

/// Whether natscli has a context of this name (its file is there).
pub fn exists(name: &str) -> bool {
    nats_config_dir().is_some_and(|dir| dir.join(format!("context/{name}.json")).is_file())
}

/// The value parser of `--context` (and `NATS_CONTEXT`, and natscli's
/// selected context): reads and checks the context, or says which there are.
pub(super) fn parse_context(name: &str) -> Result<NatsContext, String> {
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.starts_with('.')
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
    {
        return Err(format!(
            "a context name is a file name of natscli's (nats context ls), at most {MAX_NAME_BYTES} bytes"
        ));
    }
    let Some(dir) = nats_config_dir().map(|dir| dir.join("context")) else {
        return Err("neither HOME nor XDG_CONFIG_HOME is set, so there are no contexts".into());
    };
    let path = dir.join(format!("{name}.json"));
    if !path.is_file() {
        let selected = if selected().as_deref() == Some(name) {
            " (it is the one `nats context select` chose)"
        } else {
            ""
        };
        return Err(format!(
            "there is no context {name}{selected}: no file {}; {}",
            path.display(),
            known_contexts(&dir)
        ));
    }
    let bytes = connection::read_at_most(&path, MAX_CONTEXT_BYTES, "the most a context may be")?;
    // Its secrets are hidden like those of the command line, from before
    // anything about it can be printed.
    register_secrets(&bytes);
    let file: ContextFile = serde_json::from_slice(&bytes).map_err(|err| {
        let why = why(&err, &bytes);
        format!("{} is not a natscli context: {why}", path.display())
    })?;
    let text = |value: String| (!value.is_empty()).then_some(value);
    let file_of = |value: String, check: fn(PathBuf) -> Result<PathBuf, String>| {
        text(value)
            .map(|value| check(expand_home(&value)))
            .transpose()
    };
    let unsupported = [
        ("nkey", !file.nkey.is_empty()),
        ("nsc", !file.nsc.is_empty()),
        ("user_jwt", !file.user_jwt.is_empty()),
        ("jetstream_domain", !file.jetstream_domain.is_empty()),
        (
            "jetstream_api_prefix",
            !file.jetstream_api_prefix.is_empty(),
        ),
        (
            "jetstream_event_prefix",
            !file.jetstream_event_prefix.is_empty(),
        ),
        ("inbox_prefix", !file.inbox_prefix.is_empty()),
        ("socks_proxy", !file.socks_proxy.is_empty()),
        ("tls_first", file.tls_first),
        ("windows_cert_store", !file.windows_cert_store.is_empty()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect();
    let shown = path.display().to_string();
    let in_context = |err: String| format!("context {name} ({shown}): {err}");
    let context = NatsContext {
        name: name.to_owned(),
        url: text(file.url),
        user: text(file.user),
        password: text(file.password),
        token: text(file.token),
        creds: file_of(file.creds, creds_file).map_err(in_context)?,
        cert: file_of(file.cert, cert_file).map_err(in_context)?,
        key: file_of(file.key, key_file).map_err(in_context)?,
        ca: file_of(file.ca, ca_file).map_err(in_context)?,
        unsupported,
        path,
    };
    if let Some(url) = &context.url {
        connection::parse_servers(url).map_err(|err| in_context(format!("its url: {err}")))?;
    }
    if context.cert.is_some() != context.key.is_some() {
        return Err(in_context("it sets one of cert and key; give both".into()));
    }
    Ok(context)
}

/// Registers with the masking step the secrets of a context file, as far as
/// it is JSON: its password and token (as written, a number too), and the
/// passwords and tokens in its url.
fn register_secrets(bytes: &[u8]) {
    let Ok(serde_json::Value::Object(file)) = serde_json::from_slice(bytes) else {
        return;
    };
    let text = |key: &str| match file.get(key) {
        Some(serde_json::Value::String(text)) => Some(text.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let secrets: Vec<String> = ["password", "token"].into_iter().filter_map(text).collect();
    crate::mask::register_secrets(secrets.iter().map(String::as_str));
    if let Some(url) = text("url") {
        crate::mask::register_servers(&url);
    }
}

/// What is wrong with a context file, and where, without a word of what it
/// holds: serde_json's messages quote values (`invalid type: integer
/// `98765432``), and a value may be a password.
fn why(err: &serde_json::Error, bytes: &[u8]) -> String {
    use serde_json::error::Category;
    let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let what = match err.classify() {
        Category::Syntax => "it is not valid JSON",
        Category::Eof => "it ends before its JSON does",
        Category::Data if !is_object => "it is not a JSON object, as natscli writes",
        Category::Data => {
            "a key holds a value of the wrong kind (natscli writes strings, and true or false \
             for tls_first)"
        }
        Category::Io => "it could not be read",
    };
    format!("{what}, at line {} column {}", err.line(), err.column())
}

/// `~/x` as natscli writes paths, with the home folder in place of `~`.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// "the contexts there are: a, b" or "there are none".
fn known_contexts(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    match names.len() {
        0 => format!(
            "{} holds no contexts (make one with `nats context save NAME --server URL`)",
            dir.display()
        ),
        n if n > LISTED => format!(
            "the contexts there are: {}, and {} more",
            names[..LISTED].join(", "),
            n - LISTED
        ),
        _ => format!("the contexts there are: {}", names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde_json's own messages quote the value (`invalid type: integer
    /// `98765432``); what a context's error says quotes nothing of the file.
    #[test]
    fn a_context_files_errors_quote_none_of_its_values() {
        for (json, what) in [
            (
                r#"{"password": 98765432}"#,
                "a key holds a value of the wrong kind",
            ),
            (
                r#"{"tls_first": "Qz9Xw-secret"}"#,
                "a key holds a value of the wrong kind",
            ),
            (r#"[98765432]"#, "it is not a JSON object"),
            (
                r#"{"password": "Qz9Xw-secret" "#,
                "it ends before its JSON does",
            ),
            (r#"{"password" "Qz9Xw-secret"}"#, "it is not valid JSON"),
        ] {
            let err = serde_json::from_str::<ContextFile>(json).unwrap_err();
            let said = why(&err, json.as_bytes());
            assert!(
                said.starts_with(what) && said.contains("at line 1 column"),
                "{said}"
            );
            assert!(
                !said.contains("98765432") && !said.contains("Qz9Xw"),
                "{said}"
            );
        }
    }
}
