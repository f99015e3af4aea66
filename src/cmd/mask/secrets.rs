//! Which secrets a run has: those of its command line and environment,
//! of a server list, of a credentials file; and the forms each is printed in.

use std::ffi::OsString;

use nats_course_toolkit::server_url::credentials;

/// The secrets in a command line (without the program's name) and the
/// environment.
pub fn of_process(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Vec<String> {
    let args: Vec<String> = args
        .into_iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let mut secrets: Vec<String> = Vec::new();
    let mut servers: Vec<String> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let next = args.get(i + 1).cloned();
        match arg.as_str() {
            "--password" | "--token" => secrets.extend(next),
            "-s" | "--server" | "--url" => servers.extend(next),
            _ => {
                for flag in ["--password=", "--token="] {
                    secrets.extend(arg.strip_prefix(flag).map(str::to_owned));
                }
                for flag in ["--server=", "--url=", "-s=", "-s"] {
                    if let Some(value) = arg.strip_prefix(flag) {
                        servers.push(value.to_owned());
                        break;
                    }
                }
            }
        }
        // A URL anywhere, even where it doesn't belong (a forgotten -s).
        secrets.extend(url_secrets(arg));
    }
    servers.extend(env("NATS_URL").map(|url| url.to_string_lossy().into_owned()));
    for list in &servers {
        secrets.extend(of_servers(list));
    }
    for name in ["NATS_PASSWORD", "NATS_TOKEN"] {
        secrets.extend(env(name).map(|value| value.to_string_lossy().into_owned()));
    }
    secrets
}

/// The passwords and tokens of a server list as `--server` takes it (the
/// client reads `user:password@host:port` as a nats:// URL).
pub fn of_servers(list: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    for server in nats_course_toolkit::server_url::split_servers(list) {
        let server = server.trim();
        if server.contains("://") {
            secrets.extend(url_secrets(server));
        } else {
            secrets.extend(url_secrets(&format!("nats://{server}")));
        }
    }
    secrets
}

/// The passwords and tokens of the URLs in one argument, which may hold a
/// comma-separated list: each URL's credentials end at the last `@` before
/// the next URL. Each also with its `%XX` escapes decoded, as the client
/// decodes them.
fn url_secrets(arg: &str) -> Vec<String> {
    let found: Vec<String> = credentials(arg.as_bytes(), false)
        .map(|range| arg[range].to_owned())
        .collect();
    let decoded: Vec<String> = found
        .iter()
        .map(|secret| nats_course_toolkit::server_url::percent_decode(secret))
        .collect();
    found.into_iter().chain(decoded).collect()
}

/// The NKey seed of a credentials file (`nsc` writes it between
/// `-----BEGIN USER NKEY SEED-----` and `------END USER NKEY SEED------`):
/// with it, anyone can be that user.
pub fn of_creds(creds: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(creds);
    let mut in_seed = false;
    let mut secrets = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.contains("NKEY SEED") {
            in_seed = line.contains("BEGIN");
        } else if in_seed && !line.is_empty() {
            secrets.push(line.to_owned());
        }
    }
    secrets
}

/// A secret as the commands may print it: as it is, as JSON writes it in a
/// string (`pa\"ss`), and with its control characters escaped, as event
/// data is shown (`a\u001bb`).
pub fn forms(secret: &str) -> Vec<Vec<u8>> {
    let mut forms = vec![secret.as_bytes().to_vec()];
    if let Ok(json) = serde_json::to_string(secret) {
        forms.push(json.as_bytes()[1..json.len() - 1].to_vec());
    }
    forms.push(
        nats_course_toolkit::notes::escape_control(secret)
            .as_bytes()
            .to_vec(),
    );
    forms.sort();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        of_process(args.iter().map(OsString::from), |name| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn finds_the_secrets_of_a_command_line() {
        let found = secrets(
            &[
                "--password",
                "-Sup3r",
                "--token=t0k",
                "-s",
                "nats://alice:pa,ss@host:4222,nats://bob:b@h",
                "nats://x:a%40b@h",
                "--url=carol:c0@h:1",
            ],
            &[("NATS_PASSWORD", "envpw"), ("NATS_TOKEN", "envtok")],
        );
        for secret in [
            "-Sup3r", "t0k", "pa,ss", "b", "a%40b", "a@b", "c0", "envpw", "envtok",
        ] {
            assert!(found.iter().any(|s| s == secret), "{secret} in {found:?}");
        }
        assert!(!found.iter().any(|s| s == "pa"), "{found:?}");
    }

    #[test]
    fn finds_the_secrets_of_a_server_list_and_a_creds_file() {
        let found = of_servers("u:ctx Secret2@bad host:1,nats://tok%21@h");
        for secret in ["ctx Secret2", "tok%21", "tok!"] {
            assert!(found.iter().any(|s| s == secret), "{secret} in {found:?}");
        }
        let creds = "-----BEGIN NATS USER JWT-----\neyJ0.x.y\n------END NATS USER JWT------\n\n\
                     ************************* IMPORTANT *************************\n\n\
                     -----BEGIN USER NKEY SEED-----\nSUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZY\n\
                     ------END USER NKEY SEED------\n";
        assert_eq!(
            of_creds(creds.as_bytes()),
            ["SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZY"]
        );
    }

    #[test]
    fn a_secret_is_looked_for_as_it_is_printed() {
        let forms = |s: &str| -> Vec<String> {
            forms(s)
                .into_iter()
                .map(|f| String::from_utf8(f).unwrap())
                .collect()
        };
        assert_eq!(forms("plain"), ["plain"]);
        assert_eq!(forms("pa\"ss\\"), ["pa\"ss\\", "pa\\\"ss\\\\"]);
        assert_eq!(forms("a\u{1b}b"), ["a\u{1b}b", "a\\u001bb"]);
    }
}
