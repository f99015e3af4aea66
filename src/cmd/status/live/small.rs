//! The view on a terminal too small for it: one message, the longest of a
//! few that say the same thing (the view needs 80×24) and fit, wrapped at
//! spaces and centred. Readable down to 10×2; smaller still, what fits of
//! the shortest, and never a panic.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::state::{MIN_HEIGHT, MIN_WIDTH};

/// Draws the message on the whole frame.
pub fn draw(frame: &mut Frame) {
    let area = frame.area();
    let lines = message(area.width, area.height);
    let rows = (lines.len() as u16).min(area.height);
    let top = area.y + (area.height - rows).div_ceil(2);
    for (i, line) in lines.into_iter().take(usize::from(rows)).enumerate() {
        let row = Rect::new(area.x, top + i as u16, area.width, 1);
        frame.render_widget(Paragraph::new(Line::from(line)).centered(), row);
    }
}

/// The message's lines for a `width`×`height` terminal: the first of the
/// versions below that fits, wrapped; else the shortest, cut.
fn message(width: u16, height: u16) -> Vec<String> {
    let versions = [
        format!(
            "status --live needs at least {MIN_WIDTH}×{MIN_HEIGHT}; this terminal is {width}×{height}"
        ),
        format!("status --live needs at least {MIN_WIDTH}×{MIN_HEIGHT}"),
        format!("too small: {MIN_WIDTH}×{MIN_HEIGHT}"),
        format!("{MIN_WIDTH}×{MIN_HEIGHT}"),
    ];
    for version in &versions {
        if let Some(lines) = wrap(version, usize::from(width))
            && lines.len() <= usize::from(height)
        {
            return lines;
        }
    }
    vec![versions[versions.len() - 1].clone()]
}

/// `text` wrapped at spaces into lines of at most `width` characters, or
/// `None` when a word is wider.
fn wrap(text: &str, width: usize) -> Option<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        let len = word.chars().count();
        if len > width {
            return None;
        }
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + len <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    Some(lines)
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::super::state::State;

    /// The screen's text, its rows joined by spaces and trimmed.
    fn text(width: u16, height: u16) -> String {
        let state = State::new(Vec::new(), false, "nats://localhost:4222".into());
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| super::super::draw::draw(frame, &state))
            .unwrap();
        let buffer = terminal.backend().buffer();
        let symbols: Vec<&str> = buffer.content().iter().map(|c| c.symbol()).collect();
        symbols
            .chunks(usize::from(width))
            .map(|row| row.concat().trim().to_owned())
            .filter(|row| !row.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// At 20×5 the whole message reads, wrapped (it was cut to "status
    /// --live needs"); at 10×3 a shorter one with the same meaning.
    #[test]
    fn a_small_terminal_reads_the_whole_message() {
        assert_eq!(
            text(20, 5),
            "status --live needs at least 80×24; this terminal is 20×5"
        );
        assert_eq!(text(40, 1), "status --live needs at least 80×24");
        assert_eq!(text(10, 3), "too small: 80×24");
        assert_eq!(text(5, 1), "80×24");
    }

    /// Down to 1×1 and 0×0, no panic.
    #[test]
    fn a_tiny_terminal_does_not_panic() {
        for (width, height) in [(1, 1), (2, 1), (1, 3), (4, 2), (0, 0), (80, 0), (0, 24)] {
            text(width.max(1), height.max(1));
            let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
            let state = State::new(Vec::new(), false, String::new());
            terminal
                .draw(|frame| super::super::draw::draw(frame, &state))
                .unwrap();
        }
        assert_eq!(text(1, 1), "8");
    }
}
