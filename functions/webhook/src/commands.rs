//! What a user can type to Herald, in a personal chat or after @mentioning it.

use herald_domain::TimeZone;
use herald_schedule::{ReminderCommand, ReminderParseError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Stop,
    Start,
    Status,
    /// `timezone <IANA name>`: the user's explicit zone.
    SetTimeZone(TimeZone),
    /// `timezone auto`: follow what the Teams client reports again.
    AutoTimeZone,
    /// `timezone <something unknown>`.
    UnknownTimeZone(String),
    /// `remind me ...`, `reminders`, `cancel reminder <id>`; a message that starts like one but
    /// cannot be read carries the error to answer with.
    Reminder(Result<ReminderCommand, ReminderParseError>),
    Unknown(String),
}

/// Removes `<at>…</at>` mentions (Teams puts the bot's mention in the text) and HTML spaces.
#[must_use]
pub fn strip_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<at>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</at>") {
            Some(end) => rest = &rest[start + end + "</at>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace('\u{a0}', " ")
        .trim()
        .to_owned()
}

impl Command {
    /// Reads a command from message text (mentions already stripped or not).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let text = strip_mentions(text);
        let mut words = text.split_whitespace();
        let first = words.next().unwrap_or_default().to_lowercase();
        let rest: Vec<&str> = words.collect();
        match (first.as_str(), rest.as_slice()) {
            ("help" | "?", []) => Self::Help,
            ("stop" | "unsubscribe", []) => Self::Stop,
            ("start" | "subscribe", []) => Self::Start,
            ("status", []) => Self::Status,
            ("timezone" | "tz", [name]) if name.eq_ignore_ascii_case("auto") => Self::AutoTimeZone,
            ("timezone" | "tz", [name]) => match name.parse() {
                Ok(zone) => Self::SetTimeZone(zone),
                Err(_) => Self::UnknownTimeZone((*name).to_owned()),
            },
            _ => match ReminderCommand::parse(&text) {
                Err(ReminderParseError::NotACommand) => Self::Unknown(text),
                reminder => Self::Reminder(reminder),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_mentions_and_parses() {
        assert_eq!(strip_mentions("<at>Herald</at> stop"), "stop");
        assert_eq!(strip_mentions("<at>Herald</at>&nbsp;help "), "help");
        assert_eq!(strip_mentions("<at>unterminated"), "");
        assert_eq!(Command::parse("<at>Herald</at> STOP"), Command::Stop);
        assert_eq!(Command::parse("unsubscribe"), Command::Stop);
        assert_eq!(Command::parse("subscribe"), Command::Start);
        assert_eq!(
            Command::parse("timezone Asia/Kathmandu"),
            Command::SetTimeZone("Asia/Kathmandu".parse().unwrap())
        );
        assert_eq!(Command::parse("timezone AUTO"), Command::AutoTimeZone);
        assert_eq!(
            Command::parse("timezone Mars/Base"),
            Command::UnknownTimeZone("Mars/Base".into())
        );
        assert_eq!(
            Command::parse("what can you do"),
            Command::Unknown("what can you do".into())
        );
        assert_eq!(Command::parse(""), Command::Unknown(String::new()));
        assert_eq!(
            Command::parse("<at>Herald</at> reminders"),
            Command::Reminder(Ok(ReminderCommand::List))
        );
        assert_eq!(
            Command::parse("cancel reminder s-1a2b"),
            Command::Reminder(Ok(ReminderCommand::Cancel {
                id: "s-1a2b".into()
            }))
        );
        assert!(matches!(
            Command::parse("remind me daily at 17:30 to log hours"),
            Command::Reminder(Ok(ReminderCommand::Create { ref text, .. })) if text == "log hours"
        ));
        assert_eq!(
            Command::parse("remind me daily at 17:30"),
            Command::Reminder(Err(ReminderParseError::MissingText))
        );
    }
}
