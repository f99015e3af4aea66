//! What a command asks JetStream: every request on `$JS.API.>`, seen by a
//! plain NATS subscription of the test's own (the server lets any client of
//! the account subscribe to the API's subjects). No mocks: the command talks
//! to the real server, and the test only listens in.

use futures_util::StreamExt as _;

use super::block_on;

/// The subjects of the JetStream API requests any client made while `run`
/// ran, in order (`$JS.API.CONSUMER.LIST.TICKET_CREATED`, ...). `run` is a
/// blocking call (a command run to its end, say).
pub fn api_requests<T: Send + 'static>(
    url: &str,
    run: impl FnOnce() -> T + Send + 'static,
) -> (Vec<String>, T) {
    block_on(async {
        let client = async_nats::connect(url).await.expect("connect test client");
        let mut requests = client.subscribe("$JS.API.>").await.expect("subscribe");
        // The server has the subscription before the command starts.
        client.flush().await.expect("flush");
        let value = tokio::task::spawn_blocking(run).await.expect("run");
        // Every request was answered before the command ended, so it was
        // passed on to this subscription before: a round trip after it
        // brings them all in.
        client.flush().await.expect("flush");
        let mut subjects = Vec::new();
        while let Some(Some(message)) = futures_util::FutureExt::now_or_never(requests.next()) {
            subjects.push(message.subject.to_string());
        }
        (subjects, value)
    })
}

/// How many of `subjects` start with `prefix`.
pub fn count(subjects: &[String], prefix: &str) -> usize {
    subjects.iter().filter(|s| s.starts_with(prefix)).count()
}
