//! Messages that tell the user what to change, without naming a flag.
//!
//! Some errors and notes say what to do next: start a queue group over,
//! choose another durable name, give the CA that signed the server's
//! certificate. The library knows what the user can change, not how the
//! caller lets them change it: the `listen` command has `--reset`, a
//! service that embeds the library has its own settings. So such a message
//! is a [`Said`]: text with [`Mention`]s in it. Its `Display` says each
//! mention in the library's words; [`Said::render`] lets the caller say it
//! its own way (the commands say their flags).

use std::borrow::Cow;
use std::fmt;

/// Something the user can change or do, mentioned in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mention {
    /// The channel (another one, where a stream name is taken).
    Channel,
    /// The credentials file given to connect.
    Creds,
    /// The CA certificate file that signed the server's certificate.
    TlsCa,
    /// The client certificate file.
    TlsCert,
    /// The client certificate's key file.
    TlsKey,
    /// Giving a client certificate and its key.
    ClientCertificate,
    /// Giving the CA that signed the server's certificate.
    TrustedCa,
    /// Starting a queue group or durable over: deleting its subscription,
    /// which forgets what it acked, and subscribing again.
    StartOver,
    /// Someone started this queue group or durable over.
    StartedOver,
    /// The durable's name.
    DurableName,
    /// The queue group's name.
    QueueGroupName,
    /// Listening on one's own, without a queue group.
    ListenAlone,
    /// Asking the server to report every ack.
    ReportAcks,
    /// The start position the listener asked for.
    Start,
}

/// A message with mentions in it: an error, or a note.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Said {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// A mention, and the library's words for it here.
    Mention(Mention, Cow<'static, str>),
}

impl Said {
    /// A message of this text.
    pub fn text(text: impl Into<String>) -> Said {
        Said::default().and(text)
    }

    /// The message, then this text.
    pub fn and(mut self, text: impl Into<String>) -> Said {
        self.parts.push(Part::Text(text.into()));
        self
    }

    /// The message, then a mention, which the library says as `words`.
    pub fn mention(mut self, mention: Mention, words: impl Into<Cow<'static, str>>) -> Said {
        self.parts.push(Part::Mention(mention, words.into()));
        self
    }

    /// The message with each mention said by `say`, which gets the
    /// mention and the library's words for it.
    pub fn render<'a>(&'a self, say: impl Fn(Mention, &'a str) -> Cow<'a, str>) -> String {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Text(words) => text.push_str(words),
                Part::Mention(mention, words) => text.push_str(&say(*mention, words)),
            }
        }
        text
    }
}

impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(|_, words| Cow::Borrowed(words)))
    }
}

impl std::error::Error for Said {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_says_its_words_and_a_caller_its_own() {
        let said = Said::text("to start over, ")
            .mention(Mention::StartOver, "delete the subscription")
            .and(".");
        assert_eq!(said.to_string(), "to start over, delete the subscription.");
        let flags = said.render(|mention, words| match mention {
            Mention::StartOver => Cow::Borrowed("run again with --reset"),
            _ => Cow::Borrowed(words),
        });
        assert_eq!(flags, "to start over, run again with --reset.");
    }
}
