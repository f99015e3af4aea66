//! `-H/--header NAME:VALUE`: NATS headers sent with every event, as
//! `curl -H` sends HTTP headers. A NATS header block is HTTP-like text,
//! so a name holds no space, colon or control character, and a value no
//! line break. A value is sent as it is, but every NATS client (async-nats,
//! nats.go) trims the spaces around a value when it reads one, so a value
//! ending in spaces is refused rather than shortened without a word.

use std::fmt;

/// The most headers one publish may add.
pub const MAX_HEADERS: usize = 64;

/// The most bytes the added headers may take, names and values together.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// One `-H NAME:VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name, as given (NATS header names keep their case).
    pub name: String,
    /// The value, its leading spaces dropped (`-H 'Trace-Id: 42'`).
    pub value: String,
}

impl Header {
    /// Its size as counted against [`MAX_HEADER_BYTES`].
    pub fn len(&self) -> usize {
        self.name.len() + self.value.len()
    }

    /// Whether name and value are both empty (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.value)
    }
}

/// Parses `NAME:VALUE`.
pub(super) fn parse_header(text: &str) -> Result<Header, String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err("a header is NAME:VALUE, e.g. -H 'Trace-Id: 42'".to_owned());
    };
    if name.is_empty() {
        return Err("the header has no name before its ':'".to_owned());
    }
    if let Some(bad) = name.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "a header name is printable ASCII without spaces or colons; {name:?} has {bad:?}"
        ));
    }
    if name.len() >= 5 && name[..5].eq_ignore_ascii_case("nats-") {
        return Err(format!(
            "headers starting with Nats- are JetStream's own ({name}); publish sets Nats-Msg-Id itself"
        ));
    }
    let value = value.trim_start_matches([' ', '\t']);
    if value.ends_with([' ', '\t']) {
        return Err(format!(
            "the value of header {name} ends in spaces, which NATS clients drop when they read it; \
             remove them, e.g. -H '{name}: {}'",
            value.trim_end_matches([' ', '\t'])
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "the value of header {name} holds a control character (a line break?)"
        ));
    }
    let header = Header {
        name: name.to_owned(),
        value: value.to_owned(),
    };
    if header.len() > MAX_HEADER_BYTES {
        return Err(format!(
            "the header is larger than {} KiB, the most the headers may take together",
            MAX_HEADER_BYTES / 1024
        ));
    }
    Ok(header)
}

/// Checks the headers together: at most [`MAX_HEADERS`], of at most
/// [`MAX_HEADER_BYTES`] in all; builds what each event carries.
pub(super) fn header_map(headers: &[Header]) -> Result<async_nats::HeaderMap, String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers given; at most {MAX_HEADERS} may be",
            headers.len()
        ));
    }
    let total: usize = headers.iter().map(Header::len).sum();
    if total > MAX_HEADER_BYTES {
        return Err(format!(
            "the headers take {total} bytes; at most {} KiB may they take together",
            MAX_HEADER_BYTES / 1024
        ));
    }
    let mut map = async_nats::HeaderMap::new();
    for header in headers {
        let name: async_nats::header::HeaderName = header
            .name
            .parse()
            .map_err(|err| format!("header {}: {err}", header.name))?;
        let value: async_nats::header::HeaderValue = header
            .value
            .parse()
            .map_err(|err| format!("header {}: {err}", header.name))?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_value_split_at_the_first_colon_value_trimmed() {
        let header = parse_header("Trace-Id:  a:b c").unwrap();
        assert_eq!(
            (header.name.as_str(), header.value.as_str()),
            ("Trace-Id", "a:b c")
        );
        assert_eq!(parse_header("Empty:").unwrap().value, "");
    }

    #[test]
    fn bad_names_and_values_are_refused() {
        for bad in [
            "NoColon",
            ":value",
            "Has Space:1",
            "Tab\tName:1",
            "Nats-Msg-Id:1",
            "nats-expected-stream:X",
            "Ok:line\nbreak",
            "Trailing:value  ",
            "Tab:value\t",
        ] {
            assert!(parse_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn headers_are_bounded_in_number() {
        let many: Vec<Header> = (0..=MAX_HEADERS)
            .map(|i| parse_header(&format!("H{i}:v")).unwrap())
            .collect();
        assert!(header_map(&many[..MAX_HEADERS]).is_ok());
        assert!(header_map(&many).unwrap_err().contains("at most 64"));
    }
}
