//! Reminder commands typed in chat, as the webhook receives them.
//!
//! `remind me every weekday at 9:00 to <text>`, `remind me daily at 17:30 to <text>`,
//! `remind me on 2026-12-24 at 08:00 to <text>`, `every mon,wed at 9:15`, `monthly on 31 at 18:00`,
//! `reminders`, `cancel reminder <id>`. Matching is case-insensitive and ignores extra spaces; the
//! reminder text keeps the user's own spelling. Errors are written to be sent back as the reply.

use chrono::NaiveTime;
use thiserror::Error;

use crate::recurrence::{MonthDay, Recurrence, Weekdays, parse_date, parse_day_list, parse_hhmm};

/// What a chat message asks the reminder feature to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderCommand {
    /// Create a reminder firing on `recurrence` in the user's zone, saying `text`.
    Create {
        recurrence: Recurrence,
        text: String,
    },
    /// List the user's reminders with their ids.
    List,
    /// Cancel the reminder with this id (as listed).
    Cancel { id: String },
}

const EXAMPLES: &str = "Try: 'remind me every weekday at 9:00 to stand up', \
'remind me daily at 17:30 to log hours', 'remind me on 2026-12-24 at 08:00 to buy bread', \
'reminders' or 'cancel reminder <id>'.";

/// Why a chat message could not be read; `Display` is the reply to send.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReminderParseError {
    /// Not a reminder command at all: the webhook may handle the message otherwise.
    #[error("I can set reminders for you. {EXAMPLES}")]
    NotACommand,
    #[error("I couldn't read the time '{0}' - use HH:MM, 24-hour (like 17:30), or 9am / 5:30pm.")]
    InvalidTime(String),
    #[error("When should I remind you? Add a time, like 'at 9:00'. {EXAMPLES}")]
    MissingTime,
    #[error("I couldn't read the date '{0}' - use YYYY-MM-DD, like 2026-12-24.")]
    InvalidDate(String),
    #[error(
        "I don't know the day '{0}' - use mon, tue, wed, thu, fri, sat, sun, weekday or weekend."
    )]
    UnknownDay(String),
    #[error(
        "I couldn't read the day of the month '{0}' - use a number from 1 to 31, like 'monthly on 15'."
    )]
    InvalidMonthDay(String),
    #[error(
        "Which days? Say 'daily', 'every weekday', 'every mon,wed', 'monthly on 15' or 'on 2026-12-24'."
    )]
    MissingDays,
    #[error("I couldn't tell which days from '{0}'. {EXAMPLES}")]
    UnrecognizedSchedule(String),
    #[error(
        "What should I remind you about? End with 'to <text>', like 'remind me daily at 9:00 to stretch'."
    )]
    MissingText,
    #[error("Which reminder? Use 'cancel reminder <id>'; 'reminders' lists the ids.")]
    MissingId,
}

/// A whitespace-separated word with its byte span in the original message.
struct Word<'a> {
    start: usize,
    text: &'a str,
    lower: String,
}

fn words(input: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in input.char_indices().chain([(input.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                let text = &input[s..i];
                out.push(Word {
                    start: s,
                    text,
                    lower: text.to_lowercase(),
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

impl ReminderCommand {
    /// Reads one chat message.
    pub fn parse(input: &str) -> Result<Self, ReminderParseError> {
        let words = words(input);
        let lower: Vec<&str> = words.iter().map(|w| w.lower.as_str()).collect();
        match lower.as_slice() {
            ["reminders" | "reminders?"]
            | ["list" | "show" | "my", "reminders"]
            | ["list" | "show", "my", "reminders"] => Ok(Self::List),
            [
                "cancel" | "delete" | "remove" | "stop",
                "reminder" | "reminders",
                rest @ ..,
            ] => match rest {
                [_] => Ok(Self::Cancel {
                    id: words[2].text.trim_start_matches('#').to_owned(),
                }),
                _ => Err(ReminderParseError::MissingId),
            },
            ["remind", "me", ..] => parse_create(input, &words[2..]),
            _ => Err(ReminderParseError::NotACommand),
        }
    }
}

fn parse_create(input: &str, words: &[Word<'_>]) -> Result<ReminderCommand, ReminderParseError> {
    // The schedule is everything before the first "to"; the text is everything after, verbatim.
    let to = words
        .iter()
        .position(|w| w.lower == "to")
        .ok_or(ReminderParseError::MissingText)?;
    let text = words
        .get(to + 1)
        .map(|w| input[w.start..].trim())
        .unwrap_or_default();
    if text.is_empty() {
        return Err(ReminderParseError::MissingText);
    }
    let when: Vec<&str> = words[..to].iter().map(|w| w.lower.as_str()).collect();

    let at = when
        .iter()
        .position(|w| *w == "at")
        .ok_or(ReminderParseError::MissingTime)?;
    let mut time_end = at + 2;
    if matches!(
        when.get(at + 2).copied(),
        Some("am" | "pm" | "a.m." | "p.m.")
    ) {
        time_end += 1;
    }
    let time_words = when
        .get(at + 1..time_end)
        .ok_or(ReminderParseError::MissingTime)?;
    let time = parse_clock(&time_words.concat())
        .ok_or_else(|| ReminderParseError::InvalidTime(time_words.join(" ")))?;
    let schedule: Vec<&str> = when[..at]
        .iter()
        .chain(&when[time_end.min(when.len())..])
        .copied()
        .collect();
    let recurrence = parse_schedule(&schedule, time)?;
    Ok(ReminderCommand::Create {
        recurrence,
        text: text.to_owned(),
    })
}

fn parse_schedule(words: &[&str], time: NaiveTime) -> Result<Recurrence, ReminderParseError> {
    let unrecognized = || ReminderParseError::UnrecognizedSchedule(words.join(" "));
    match words {
        [] => Err(ReminderParseError::MissingDays),
        ["daily" | "everyday"] | ["every" | "each", "day"] => Ok(Recurrence::Daily { time }),
        ["on", date] => parse_date(date).map_or_else(
            || {
                if date.bytes().any(|b| b.is_ascii_digit()) {
                    Err(ReminderParseError::InvalidDate((*date).to_owned()))
                } else {
                    weekly(&words[1..], time)
                }
            },
            |d| {
                Ok(Recurrence::Once {
                    at: d.and_time(time),
                })
            },
        ),
        ["monthly", "on", rest @ ..] | ["every" | "each", "month", "on", rest @ ..] => {
            monthly(rest, time)
        }
        ["every" | "each" | "on", days @ ..] if !days.is_empty() => weekly(days, time),
        _ => Err(unrecognized()),
    }
}

fn weekly(days: &[&str], time: NaiveTime) -> Result<Recurrence, ReminderParseError> {
    let days = parse_day_list(days.iter().copied()).map_err(ReminderParseError::UnknownDay)?;
    if days.is_empty() {
        return Err(ReminderParseError::UnknownDay(String::new()));
    }
    if days == Weekdays::ALL {
        return Ok(Recurrence::Daily { time });
    }
    Ok(Recurrence::Weekly { days, time })
}

fn monthly(words: &[&str], time: NaiveTime) -> Result<Recurrence, ReminderParseError> {
    let words = match words {
        ["the", rest @ ..] => rest,
        other => other,
    };
    let [raw] = words else {
        return Err(ReminderParseError::InvalidMonthDay(words.join(" ")));
    };
    let digits = raw.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix_ok = matches!(&raw[digits.len()..], "" | "st" | "nd" | "rd" | "th");
    digits
        .parse::<u32>()
        .ok()
        .filter(|_| suffix_ok)
        .and_then(MonthDay::new)
        .map(|day| Recurrence::Monthly { day, time })
        .ok_or_else(|| ReminderParseError::InvalidMonthDay((*raw).to_owned()))
}

/// `9`, `09:00`, `17:30`, `9am`, `5:30pm`, `12am` (midnight), `noon`, `midnight`.
fn parse_clock(s: &str) -> Option<NaiveTime> {
    let s = s.to_ascii_lowercase().replace('.', "");
    match s.as_str() {
        "noon" | "midday" => return NaiveTime::from_hms_opt(12, 0, 0),
        "midnight" => return NaiveTime::from_hms_opt(0, 0, 0),
        _ => {}
    }
    let (body, meridiem) = if let Some(b) = s.strip_suffix("am") {
        (b, Some(false))
    } else if let Some(b) = s.strip_suffix("pm") {
        (b, Some(true))
    } else {
        (s.as_str(), None)
    };
    let time = if body.contains(':') {
        parse_hhmm(body)?
    } else if !body.is_empty() && body.len() <= 2 && body.bytes().all(|b| b.is_ascii_digit()) {
        NaiveTime::from_hms_opt(body.parse().ok()?, 0, 0)?
    } else {
        return None;
    };
    match meridiem {
        None => Some(time),
        Some(pm) => {
            use chrono::Timelike;
            let hour = time.hour();
            if !(1..=12).contains(&hour) {
                return None;
            }
            let hour24 = match (hour, pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, false) => h,
                (h, true) => h + 12,
            };
            NaiveTime::from_hms_opt(hour24, time.minute(), 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, Weekday};

    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn create(input: &str) -> (Recurrence, String) {
        match ReminderCommand::parse(input) {
            Ok(ReminderCommand::Create { recurrence, text }) => (recurrence, text),
            other => panic!("{input:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn the_three_documented_forms() {
        assert_eq!(
            create("remind me every weekday at 9:00 to Stand up"),
            (
                Recurrence::Weekly {
                    days: Weekdays::MON_TO_FRI,
                    time: t(9, 0)
                },
                "Stand up".to_owned()
            )
        );
        assert_eq!(
            create("remind me daily at 17:30 to log hours"),
            (
                Recurrence::Daily { time: t(17, 30) },
                "log hours".to_owned()
            )
        );
        let at = NaiveDate::from_ymd_opt(2026, 12, 24)
            .unwrap()
            .and_time(t(8, 0));
        assert_eq!(
            create("remind me on 2026-12-24 at 08:00 to buy bread"),
            (Recurrence::Once { at }, "buy bread".to_owned())
        );
    }

    #[test]
    fn case_spaces_and_text_kept_verbatim() {
        let (rec, text) =
            create("  Remind   ME  Every  WEEKDAY   at  9:00   to  Ship  it, TO prod  ");
        assert_eq!(
            rec,
            Recurrence::Weekly {
                days: Weekdays::MON_TO_FRI,
                time: t(9, 0)
            }
        );
        assert_eq!(text, "Ship  it, TO prod");
    }

    #[test]
    fn day_lists_and_monthly() {
        let days = |d: &[Weekday]| d.iter().copied().collect::<Weekdays>();
        assert_eq!(
            create("remind me every monday at 9 to x").0,
            Recurrence::Weekly {
                days: days(&[Weekday::Mon]),
                time: t(9, 0)
            }
        );
        assert_eq!(
            create("remind me every mon,wed at 9:15 to x").0,
            Recurrence::Weekly {
                days: days(&[Weekday::Mon, Weekday::Wed]),
                time: t(9, 15)
            }
        );
        assert_eq!(
            create("remind me every Tuesday and Thursday at 14:00 to x").0,
            Recurrence::Weekly {
                days: days(&[Weekday::Tue, Weekday::Thu]),
                time: t(14, 0)
            }
        );
        assert_eq!(
            create("remind me on weekends at 10am to x").0,
            Recurrence::Weekly {
                days: Weekdays::WEEKEND,
                time: t(10, 0)
            }
        );
        assert_eq!(
            create("remind me every day at 7 to x").0,
            Recurrence::Daily { time: t(7, 0) }
        );
        assert_eq!(
            create("remind me monthly on 31 at 18:00 to pay rent").0,
            Recurrence::Monthly {
                day: MonthDay::new(31).unwrap(),
                time: t(18, 0)
            }
        );
        assert_eq!(
            create("remind me every month on the 1st at 9am to x").0,
            Recurrence::Monthly {
                day: MonthDay::new(1).unwrap(),
                time: t(9, 0)
            }
        );
        // Time first, then the days.
        assert_eq!(
            create("remind me at 8:45 every weekday to x").0,
            Recurrence::Weekly {
                days: Weekdays::MON_TO_FRI,
                time: t(8, 45)
            }
        );
    }

    #[test]
    fn twelve_hour_clock() {
        let time = |s: &str| create(&format!("remind me daily at {s} to x")).0.time();
        assert_eq!(time("9am"), t(9, 0));
        assert_eq!(time("5:30pm"), t(17, 30));
        assert_eq!(time("5:30 PM"), t(17, 30));
        assert_eq!(time("12am"), t(0, 0));
        assert_eq!(time("12pm"), t(12, 0));
        assert_eq!(time("12:15 a.m."), t(0, 15));
        assert_eq!(time("noon"), t(12, 0));
        assert_eq!(time("midnight"), t(0, 0));
        assert_eq!(time("23:59"), t(23, 59));
    }

    #[test]
    fn list_and_cancel() {
        assert_eq!(
            ReminderCommand::parse("reminders"),
            Ok(ReminderCommand::List)
        );
        assert_eq!(
            ReminderCommand::parse(" My  Reminders "),
            Ok(ReminderCommand::List)
        );
        assert_eq!(
            ReminderCommand::parse("cancel reminder Ab12"),
            Ok(ReminderCommand::Cancel { id: "Ab12".into() })
        );
        assert_eq!(
            ReminderCommand::parse("Cancel Reminder #7"),
            Ok(ReminderCommand::Cancel { id: "7".into() })
        );
        assert_eq!(
            ReminderCommand::parse("cancel reminder"),
            Err(ReminderParseError::MissingId)
        );
    }

    #[test]
    fn errors_say_what_to_write() {
        let err = |s: &str| ReminderCommand::parse(s).unwrap_err();
        let e = err("remind me daily at 25:00 to x");
        assert_eq!(e, ReminderParseError::InvalidTime("25:00".into()));
        assert_eq!(
            e.to_string(),
            "I couldn't read the time '25:00' - use HH:MM, 24-hour (like 17:30), or 9am / 5:30pm."
        );
        assert_eq!(
            err("remind me daily at 13pm to x"),
            ReminderParseError::InvalidTime("13pm".into())
        );
        assert_eq!(
            err("remind me daily at 9:7 to x"),
            ReminderParseError::InvalidTime("9:7".into())
        );
        assert_eq!(err("remind me daily to x"), ReminderParseError::MissingTime);
        assert_eq!(
            err("remind me daily at to x"),
            ReminderParseError::MissingTime
        );
        assert_eq!(
            err("remind me daily at 9:00"),
            ReminderParseError::MissingText
        );
        assert_eq!(
            err("remind me daily at 9:00 to   "),
            ReminderParseError::MissingText
        );
        assert_eq!(
            err("remind me on 2026-13-01 at 9:00 to x"),
            ReminderParseError::InvalidDate("2026-13-01".into())
        );
        assert_eq!(
            err("remind me every funday at 9:00 to x"),
            ReminderParseError::UnknownDay("funday".into())
        );
        assert_eq!(
            err("remind me monthly on 32 at 9:00 to x"),
            ReminderParseError::InvalidMonthDay("32".into())
        );
        assert_eq!(
            err("remind me monthly on 0 at 9:00 to x"),
            ReminderParseError::InvalidMonthDay("0".into())
        );
        assert_eq!(
            err("remind me sometime at 9:00 to x"),
            ReminderParseError::UnrecognizedSchedule("sometime".into())
        );
        assert_eq!(
            err("remind me at 9:00 to x"),
            ReminderParseError::MissingDays
        );
        assert_eq!(err("hello there"), ReminderParseError::NotACommand);
        assert_eq!(err(""), ReminderParseError::NotACommand);
        assert!(
            err("remind me daily at 99999999999999999999 to x")
                .to_string()
                .contains("99999")
        );
    }
}
