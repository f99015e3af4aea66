//! `status --live`: the event history as a tape, one lane per subscription.
//!
//! Built as ratatui's recipes build a view: the [`state::State`] is a plain
//! struct that the server's answers update; [`draw::draw`] draws it, and
//! nothing else; [`keys::on_key`] turns a key into a change of it. This
//! file connects them to the server and the terminal:
//!
//! - the infos of the subscriptions, polled twice a second, of the
//!   channel on screen only ([`poll`]);
//! - the ack reports and advisories, as they come
//!   ([`history::watch::Notices`]), which tell which event is in which state;
//! - the keys, read as a stream (crossterm's `EventStream`), so the view
//!   sleeps until something happens;
//! - the terminal, in raw mode on the alternate screen until `Screen` is
//!   dropped, which restores it on every exit path, panics included.
//!
//! The view redraws at most twice a second, and at once on a key.

use std::io::{self, Stdout};
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt as _;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use super::StatusConfig;
use crate::shutdown::Signal;
use nats_course_toolkit::history;
use nats_course_toolkit::history::watch::{self, Notices};
use nats_course_toolkit::notes::{Notes, error_line};

pub mod actions;
pub mod draw;
pub mod keys;
mod lines;
pub mod poll;
mod small;
pub mod state;

use keys::Action;
use poll::{Polled, Scope};
use state::{Popup, State};

/// How often the subscriptions' infos are asked for, and the view redrawn.
const REFRESH: Duration = Duration::from_millis(500);

/// How long one poll may take before the banner says the server is slow.
const POLL_TIMEOUT: Duration = Duration::from_secs(3);

/// What the background tasks send the view.
enum Update {
    /// Freshly polled infos, or why there are none.
    Polled(anyhow::Result<Polled>),
    /// An event read for the popup.
    Event(u64, anyhow::Result<Option<history::StoredEvent>>),
    /// A line about the connection (lost, restored).
    Note(String),
    /// What the server answered to `P`, `R` or `X`.
    Said(String),
}

/// Runs the live view until `q`, Ctrl-C or `signal`.
pub async fn run(mut config: StatusConfig, signal: Signal) -> anyhow::Result<()> {
    let (tx, mut updates) = mpsc::unbounded_channel::<Update>();
    // Lost and restored connections go to the banner: on stderr they would
    // scribble over the view.
    let notes_tx = tx.clone();
    config.connect.notes = Notes::to(move |line| {
        let _ = notes_tx.send(Update::Note(line.to_owned()));
    });
    // Connecting and the first read happen before the terminal is taken,
    // so that their errors (no server) print as usual. A channel named
    // that has no stream yet is waited for, on screen.
    let client = config.connect.connect().await?;
    let js = async_nats::jetstream::new(client.clone());
    let only = config.channel.clone();
    let (channels, stream) = match &only {
        Some(channel) => match history::find_stream(&js, channel).await? {
            Some(stream) => (
                vec![history::read_stream(&js, &stream).await?],
                Some(stream),
            ),
            None => (Vec::new(), None),
        },
        None => (history::read(&js, None).await?, None),
    };
    // The notices of the channel's stream, or of every stream's; none yet
    // while the channel named has no stream.
    let notices = match (&only, &stream) {
        (Some(_), None) => None,
        _ => Some(Notices::subscribe(&client, stream.as_deref()).await?),
    };

    let mut state = State::new(channels, only.is_some(), config.connect.display_servers());
    state.named = only.as_ref().map(|c| c.as_str().to_owned());
    state.no_color = crate::color::no_color();
    state.server_version = actions::server_version(&client);

    // The poller: twice a second whatever the view is doing, and at once
    // when another channel is shown (Tab), whose subscriptions it reads.
    let (shown_tx, mut shown) = tokio::sync::watch::channel(state.shown_stream());
    let poller = tokio::spawn({
        let (js, tx) = (js.clone(), tx.clone());
        let mut stream = stream;
        async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(REFRESH) => {}
                    changed = shown.changed() => if changed.is_err() { return },
                }
                let scope = match (&stream, &only) {
                    (Some(stream), _) => Scope::Stream(stream.clone()),
                    (None, Some(channel)) => Scope::Channel(channel.clone()),
                    (None, None) => Scope::All {
                        shown: shown.borrow_and_update().clone(),
                    },
                };
                let read = tokio::time::timeout(POLL_TIMEOUT, poll::poll(&js, &scope));
                let result = match read.await {
                    Ok(result) => result,
                    Err(_) => Err(anyhow::anyhow!(
                        "the server did not answer within {POLL_TIMEOUT:?}"
                    )),
                };
                // Found at last: from now on, read as any channel named.
                if let Ok(Polled {
                    found: Some(found), ..
                }) = &result
                {
                    stream = Some(found.clone());
                }
                if tx.send(Update::Polled(result)).is_err() {
                    return;
                }
            }
        }
    });

    let result = {
        match Screen::enter() {
            Ok(mut screen) => {
                let mut view = View {
                    state: &mut state,
                    client: &client,
                    js: &js,
                    tx: &tx,
                    shown: &shown_tx,
                    problem: None,
                };
                view.run(&mut screen.terminal, notices, &mut updates, signal)
                    .await
            }
            Err(err) => Err(anyhow::Error::from(err).context("could not set up the terminal")),
        }
        // The screen is restored here, before anything is printed.
    };
    poller.abort();
    nats_course_toolkit::connection::close(client).await;
    result
}

/// The loop's borrowed parts.
struct View<'a> {
    state: &'a mut State,
    client: &'a async_nats::Client,
    js: &'a async_nats::jetstream::Context,
    tx: &'a mpsc::UnboundedSender<Update>,
    /// The stream of the channel on screen, for the poller.
    shown: &'a tokio::sync::watch::Sender<Option<String>>,
    /// The last poll's error, for the banner.
    problem: Option<String>,
}

impl View<'_> {
    /// Marks the events the channel on screen gave up before the view
    /// opened (their advisories came then), from the stream that keeps
    /// them: once per channel, and only where a subscription has a
    /// delivery limit.
    async fn mark_given_up(&mut self, read: &mut std::collections::HashSet<String>) {
        let Some(channel) = self.state.current() else {
            return;
        };
        // Only a subscription with a delivery limit gives events up.
        let limited = channel
            .subscriptions
            .iter()
            .any(|s| s.max_deliver.is_some());
        if read.contains(&channel.stream) || !limited {
            return;
        }
        let stream = channel.stream.clone();
        if let Ok(notices) = watch::given_up(self.js, &stream).await {
            for notice in notices {
                self.state.watch.notice(notice);
            }
            read.insert(stream);
        }
    }

    async fn run(
        &mut self,
        terminal: &mut Terminal<CrosstermBackend<Stdout>>,
        mut notices: Option<Notices>,
        updates: &mut mpsc::UnboundedReceiver<Update>,
        mut signal: Signal,
    ) -> anyhow::Result<()> {
        let mut keys = EventStream::new();
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut notices_open = true;
        // The streams whose events given up before the view opened are marked.
        let mut given_up_read = std::collections::HashSet::new();
        let mut lost_since: Option<Instant> = None;
        let mut dirty = true;
        // Changes from the server not drawn yet: they wait for the next tick.
        let mut pending = false;
        loop {
            if dirty {
                self.draw(terminal)?;
                dirty = false;
            }
            let mut changed = false;
            tokio::select! {
                _ = &mut signal => return Ok(()),
                event = keys.next() => match event {
                    Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                        match keys::on_key(self.state, key) {
                            Action::Quit => return Ok(()),
                            Action::ShowEvent { stream, seq } => self.fetch(stream, seq),
                            Action::Control(request) => self.control(request),
                            Action::None => {}
                        }
                        self.show(self.state.shown_stream());
                        dirty = true;
                    }
                    Some(Ok(Event::Resize(..))) => dirty = true,
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return Err(anyhow::Error::from(err).context("could not read the keyboard")),
                    None => return Ok(()),
                },
                notice = next_notice(&mut notices), if notices_open => match notice {
                    Some(notice) => {
                        let poll_now = notice.kind == watch::NoticeKind::Changed;
                        self.state.watch.notice(notice);
                        changed = true;
                        if poll_now {
                            tick.reset_immediately();
                        }
                    }
                    None => notices_open = false,
                },
                update = updates.recv() => match update {
                    Some(Update::Polled(Ok(polled))) => {
                        // The channel named has a stream now: its notices.
                        if let (None, Some(found)) = (&notices, &polled.found) {
                            notices = Some(Notices::subscribe(self.client, Some(found)).await?);
                        }
                        self.state.update_polled(polled);
                        self.mark_given_up(&mut given_up_read).await;
                        // A channel gone or new may move the one shown.
                        self.show(self.state.shown_stream());
                        self.problem = None;
                        changed = true;
                    }
                    Some(Update::Polled(Err(err))) => {
                        self.problem = Some(error_line(&err));
                        changed = true;
                    }
                    Some(Update::Event(seq, result)) => {
                        // Only if the popup still waits for this event.
                        if matches!(self.state.popup, Some(Popup::Loading(s)) if s == seq) {
                            self.state.popup = Some(match result {
                                Ok(Some(event)) => Popup::Event(event),
                                Ok(None) => Popup::Failed(seq, format!("event #{seq} is not stored any more")),
                                Err(err) => Popup::Failed(seq, error_line(&err)),
                            });
                        }
                        dirty = true;
                    }
                    Some(Update::Said(line)) => {
                        self.state.said = Some(line);
                        // The lane as it is now.
                        tick.reset_immediately();
                        dirty = true;
                    }
                    Some(Update::Note(line)) => {
                        self.problem = Some(line);
                        changed = true;
                    }
                    None => return Ok(()),
                },
                _ = tick.tick() => {
                    let connected = self.client.connection_state()
                        == async_nats::connection::State::Connected;
                    lost_since = match (connected, lost_since) {
                        (true, _) => None,
                        (false, None) => Some(Instant::now()),
                        (false, since) => since,
                    };
                    let banner = match lost_since {
                        Some(since) => Some(format!(
                            "connection to {} lost: reconnecting… ({}s)",
                            self.state.server,
                            since.elapsed().as_secs()
                        )),
                        None => self.problem.clone(),
                    };
                    if banner != self.state.banner {
                        self.state.banner = banner;
                        dirty = true;
                    }
                    if pending {
                        dirty = true;
                        pending = false;
                    }
                }
            }
            pending |= changed;
        }
    }

    /// Draws the state on the terminal at its current size.
    fn draw(&mut self, terminal: &mut Terminal<CrosstermBackend<Stdout>>) -> io::Result<()> {
        let size = terminal.size()?;
        if (size.width, size.height) != (self.state.width, self.state.height) {
            self.state.width = size.width;
            self.state.height = size.height;
            self.state.clamp();
        }
        terminal.draw(|frame| draw::draw(frame, self.state))?;
        Ok(())
    }

    /// Tells the poller which channel is on screen, when it changed.
    fn show(&self, stream: Option<String>) {
        self.shown.send_if_modified(|shown| {
            let changed = *shown != stream;
            *shown = stream;
            changed
        });
    }

    /// Pauses, resumes or rewinds a subscription, in the background; the
    /// answer comes back as a line.
    fn control(&self, request: actions::Request) {
        let (js, tx) = (self.js.clone(), self.tx.clone());
        tokio::spawn(async move {
            let sent = tokio::time::timeout(POLL_TIMEOUT, actions::send(&js, request));
            let line = sent
                .await
                .unwrap_or_else(|_| format!("the server did not answer within {POLL_TIMEOUT:?}"));
            let _ = tx.send(Update::Said(line));
        });
    }

    /// Reads event `seq` for the popup, in the background.
    fn fetch(&self, stream: String, seq: u64) {
        let (js, tx) = (self.js.clone(), self.tx.clone());
        tokio::spawn(async move {
            let read = tokio::time::timeout(POLL_TIMEOUT, watch::event(&js, &stream, seq));
            let result = match read.await {
                Ok(result) => result,
                Err(_) => Err(anyhow::anyhow!(
                    "the server did not answer within {POLL_TIMEOUT:?}"
                )),
            };
            let _ = tx.send(Update::Event(seq, result));
        });
    }
}

/// The next notice; never, while there are none to follow (a channel named
/// that has no stream yet).
async fn next_notice(notices: &mut Option<Notices>) -> Option<watch::Notice> {
    match notices {
        Some(notices) => notices.next().await,
        None => std::future::pending().await,
    }
}

/// The terminal in raw mode on the alternate screen, with the cursor
/// hidden, until dropped: ratatui's `try_init` and `restore`, which also
/// restore it when a panic comes, before its message.
struct Screen {
    terminal: ratatui::DefaultTerminal,
}

impl Screen {
    fn enter() -> io::Result<Screen> {
        let entered = ratatui::try_init().and_then(|mut terminal| {
            // Cleared here, not with `Terminal::clear`, which asks the
            // terminal where its cursor is and fails where nothing answers
            // (a bare pty).
            crossterm::execute!(
                io::stdout(),
                crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
            )?;
            terminal.hide_cursor()?;
            Ok(terminal)
        });
        match entered {
            Ok(terminal) => Ok(Screen { terminal }),
            Err(err) => {
                // Halfway in (raw mode on, say): back out.
                ratatui::restore();
                Err(err)
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        ratatui::restore();
    }
}
