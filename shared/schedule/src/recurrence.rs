//! Schedule rules as the notify API takes them, validated into types that cannot describe an
//! impossible schedule. Parsing goes through `serde_json::Value` so that every rejection names the
//! JSON field (`recurrence.time`, `startDate`, ...) and the API can answer 400 with it.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use herald_domain::DomainError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use thiserror::Error;

/// Why a schedule rule from the API was rejected. `field()` is the JSON path to report.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    #[error("{field} is required")]
    Missing { field: &'static str },
    #[error("{field} must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("{field} has an unknown field {key:?}")]
    UnknownField { field: &'static str, key: String },
    #[error("{field}: unknown kind {value:?} (expected once, daily, weekly or monthly)")]
    UnknownKind { field: &'static str, value: String },
    #[error("{field}: {value:?} is not a time of day (use HH:MM, 24-hour)")]
    InvalidTime { field: &'static str, value: String },
    #[error("{field}: {value:?} is not a local date-time (use YYYY-MM-DDTHH:MM, without offset)")]
    InvalidDateTime { field: &'static str, value: String },
    #[error("{field}: {value:?} is not a date (use YYYY-MM-DD)")]
    InvalidDate { field: &'static str, value: String },
    #[error(
        "{field}: unknown weekday {value:?} (use mon, tue, wed, thu, fri, sat, sun, \"weekdays\" or \"weekends\")"
    )]
    UnknownWeekday { field: &'static str, value: String },
    #[error("{field} must name at least one weekday")]
    NoDays { field: &'static str },
    #[error("{field} must be a day of the month from 1 to 31, got {value}")]
    DayOutOfRange { field: &'static str, value: String },
    #[error("{field} ({end}) is before startDate ({start})")]
    EndBeforeStart {
        field: &'static str,
        start: NaiveDate,
        end: NaiveDate,
    },
    #[error("{field}: {source}")]
    TimeZone {
        field: &'static str,
        #[source]
        source: DomainError,
    },
}

impl RuleError {
    /// The JSON path of the offending field, for the API's 400 body.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            Self::Missing { field }
            | Self::WrongType { field, .. }
            | Self::UnknownField { field, .. }
            | Self::UnknownKind { field, .. }
            | Self::InvalidTime { field, .. }
            | Self::InvalidDateTime { field, .. }
            | Self::InvalidDate { field, .. }
            | Self::UnknownWeekday { field, .. }
            | Self::NoDays { field }
            | Self::DayOutOfRange { field, .. }
            | Self::EndBeforeStart { field, .. }
            | Self::TimeZone { field, .. } => field,
        }
    }
}

/// A day of the month, 1..=31. Months shorter than the day fire on their last day instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonthDay(u8);

impl MonthDay {
    /// `None` outside 1..=31, so a stored rule can never name day 0 or 32.
    #[must_use]
    pub fn new(day: u32) -> Option<Self> {
        u8::try_from(day)
            .ok()
            .filter(|d| (1..=31).contains(d))
            .map(Self)
    }

    #[must_use]
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

/// A set of weekdays (bit 0 = Monday). Small and `Copy`, so rules stay cheap to clone per zone.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Weekdays(u8);

impl Weekdays {
    pub const MON_TO_FRI: Self = Self(0b001_1111);
    pub const WEEKEND: Self = Self(0b110_0000);
    pub const ALL: Self = Self(0b111_1111);

    #[must_use]
    pub fn empty() -> Self {
        Self(0)
    }

    #[must_use]
    pub fn with(self, day: Weekday) -> Self {
        Self(self.0 | (1 << day.num_days_from_monday()))
    }

    #[must_use]
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Monday first, the order the API echoes them in.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .into_iter()
        .filter(move |d| self.contains(*d))
    }
}

impl FromIterator<Weekday> for Weekdays {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        iter.into_iter().fold(Self::empty(), Self::with)
    }
}

impl fmt::Debug for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(short_name)).finish()
    }
}

/// The three-letter lowercase name the API uses for a weekday.
#[must_use]
pub fn short_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// Reads a weekday name as people write it (`mon`, `Monday`, `tues`, `thurs`), case-insensitively.
#[must_use]
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    let day = match s.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" | "mondays" => Weekday::Mon,
        "tue" | "tues" | "tuesday" | "tuesdays" => Weekday::Tue,
        "wed" | "weds" | "wednesday" | "wednesdays" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" | "thursdays" => Weekday::Thu,
        "fri" | "friday" | "fridays" => Weekday::Fri,
        "sat" | "saturday" | "saturdays" => Weekday::Sat,
        "sun" | "sunday" | "sundays" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

/// Reads a day-set word or list: `weekdays`, `weekends`, `mon,wed`. `Err` holds the word not
/// understood, `Ok(empty)` means the list named nothing.
pub(crate) fn parse_day_list<'a>(
    words: impl IntoIterator<Item = &'a str>,
) -> Result<Weekdays, String> {
    let mut days = Weekdays::empty();
    for word in words
        .into_iter()
        .flat_map(|w| w.split(','))
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        match word.to_ascii_lowercase().as_str() {
            "and" | "&" => {}
            "weekday" | "weekdays" => days = Weekdays(days.0 | Weekdays::MON_TO_FRI.0),
            "weekend" | "weekends" => days = Weekdays(days.0 | Weekdays::WEEKEND.0),
            "day" | "everyday" | "daily" => days = Weekdays::ALL,
            other => match parse_weekday(other) {
                Some(day) => days = days.with(day),
                None => return Err(word.to_owned()),
            },
        }
    }
    Ok(days)
}

/// `HH:MM` (or `H:MM`), 24-hour. Seconds are not accepted: schedules fire on whole minutes.
pub(crate) fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// `YYYY-MM-DDTHH:MM`, optionally `:00` seconds; a trailing `Z` or offset is refused because the
/// instant is meant in the schedule's zone.
fn parse_local_date_time(s: &str) -> Option<NaiveDateTime> {
    let (date, time) = s.split_once(['T', ' '])?;
    let date = parse_date(date)?;
    let time = match time.len() {
        8 => time.strip_suffix(":00").and_then(parse_hhmm)?,
        _ => parse_hhmm(time)?,
    };
    Some(date.and_time(time))
}

/// `YYYY-MM-DD`, four-digit year.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    if !s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

fn format_time(t: NaiveTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// When a schedule fires, in wall-clock terms of whichever zone it is evaluated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recurrence {
    /// Once, at this local date-time.
    Once { at: NaiveDateTime },
    /// Every day at this local time.
    Daily { time: NaiveTime },
    /// On these weekdays at this local time. An empty set never fires.
    Weekly { days: Weekdays, time: NaiveTime },
    /// On this day of every month (the last day when the month is shorter) at this local time.
    Monthly { day: MonthDay, time: NaiveTime },
}

impl Recurrence {
    /// The wall-clock time of day the rule fires at.
    #[must_use]
    pub fn time(&self) -> NaiveTime {
        match *self {
            Self::Once { at } => at.time(),
            Self::Daily { time } | Self::Weekly { time, .. } | Self::Monthly { time, .. } => time,
        }
    }

    /// Validates the API's `recurrence` object; errors name `recurrence.<field>`.
    pub fn from_json(value: &Value) -> Result<Self, RuleError> {
        let obj = value.as_object().ok_or(RuleError::WrongType {
            field: "recurrence",
            expected: "an object with a \"kind\"",
        })?;
        let kind = required_str(obj, "kind", "recurrence.kind")?;
        let allowed: &[&str] = match kind {
            "once" => &["kind", "at"],
            "daily" => &["kind", "time"],
            "weekly" => &["kind", "days", "time"],
            "monthly" => &["kind", "day", "time"],
            other => {
                return Err(RuleError::UnknownKind {
                    field: "recurrence.kind",
                    value: other.to_owned(),
                });
            }
        };
        if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(RuleError::UnknownField {
                field: "recurrence",
                key: key.clone(),
            });
        }
        let time = || {
            let raw = required_str(obj, "time", "recurrence.time")?;
            parse_hhmm(raw.trim()).ok_or_else(|| RuleError::InvalidTime {
                field: "recurrence.time",
                value: raw.to_owned(),
            })
        };
        Ok(match kind {
            "once" => {
                let raw = required_str(obj, "at", "recurrence.at")?;
                let at = parse_local_date_time(raw.trim()).ok_or_else(|| {
                    RuleError::InvalidDateTime {
                        field: "recurrence.at",
                        value: raw.to_owned(),
                    }
                })?;
                Self::Once { at }
            }
            "daily" => Self::Daily { time: time()? },
            "weekly" => Self::Weekly {
                days: days_from_json(obj.get("days"))?,
                time: time()?,
            },
            _ => Self::Monthly {
                day: month_day_from_json(obj.get("day"))?,
                time: time()?,
            },
        })
    }
}

fn required_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a str, RuleError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(RuleError::Missing { field }),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(RuleError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn days_from_json(value: Option<&Value>) -> Result<Weekdays, RuleError> {
    const FIELD: &str = "recurrence.days";
    let unknown = |value: String| RuleError::UnknownWeekday {
        field: FIELD,
        value,
    };
    let days = match value {
        None | Some(Value::Null) => return Err(RuleError::Missing { field: FIELD }),
        Some(Value::String(s)) => parse_day_list([s.as_str()]).map_err(unknown)?,
        Some(Value::Array(items)) => {
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                names.push(item.as_str().ok_or(RuleError::WrongType {
                    field: FIELD,
                    expected: "an array of weekday names or \"weekdays\"",
                })?);
            }
            // Each array item is one name: "mon,tue" inside an array is a client bug, not a list.
            if let Some(bad) = names.iter().find(|n| n.contains(',')) {
                return Err(unknown((*bad).to_owned()));
            }
            parse_day_list(names).map_err(unknown)?
        }
        Some(_) => {
            return Err(RuleError::WrongType {
                field: FIELD,
                expected: "an array of weekday names or \"weekdays\"",
            });
        }
    };
    if days.is_empty() {
        return Err(RuleError::NoDays { field: FIELD });
    }
    Ok(days)
}

fn month_day_from_json(value: Option<&Value>) -> Result<MonthDay, RuleError> {
    const FIELD: &str = "recurrence.day";
    match value {
        None | Some(Value::Null) => Err(RuleError::Missing { field: FIELD }),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .and_then(MonthDay::new)
            .ok_or_else(|| RuleError::DayOutOfRange {
                field: FIELD,
                value: n.to_string(),
            }),
        Some(_) => Err(RuleError::WrongType {
            field: FIELD,
            expected: "a number from 1 to 31",
        }),
    }
}

fn optional_date(
    obj: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<NaiveDate>, RuleError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            parse_date(s.trim())
                .map(Some)
                .ok_or_else(|| RuleError::InvalidDate {
                    field: key,
                    value: s.clone(),
                })
        }
        Some(_) => Err(RuleError::WrongType {
            field: key,
            expected: "a date string YYYY-MM-DD",
        }),
    }
}

impl Serialize for Recurrence {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "kind", rename_all = "camelCase")]
        enum Wire {
            Once {
                at: String,
            },
            Daily {
                time: String,
            },
            Weekly {
                days: Vec<&'static str>,
                time: String,
            },
            Monthly {
                day: u32,
                time: String,
            },
        }
        let wire = match *self {
            Self::Once { at } => Wire::Once {
                at: format!(
                    "{}T{}",
                    at.date().format("%Y-%m-%d"),
                    format_time(at.time())
                ),
            },
            Self::Daily { time } => Wire::Daily {
                time: format_time(time),
            },
            Self::Weekly { days, time } => Wire::Weekly {
                days: days.iter().map(short_name).collect(),
                time: format_time(time),
            },
            Self::Monthly { day, time } => Wire::Monthly {
                day: day.get(),
                time: format_time(time),
            },
        };
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Recurrence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

/// A recurrence bounded by optional local dates (inclusive): occurrences whose rule date falls
/// outside `[start_date, end_date]` do not fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRule {
    pub recurrence: Recurrence,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
}

impl ScheduleRule {
    /// An unbounded rule.
    #[must_use]
    pub fn new(recurrence: Recurrence) -> Self {
        Self {
            recurrence,
            start_date: None,
            end_date: None,
        }
    }

    /// Validates `recurrence`, `startDate` and `endDate` from the API body. Other keys (target,
    /// message, timeZone) are left to the caller, so the whole request body can be passed in.
    pub fn from_json(body: &Value) -> Result<Self, RuleError> {
        let obj = body.as_object().ok_or(RuleError::WrongType {
            field: "body",
            expected: "a JSON object",
        })?;
        let recurrence = match obj.get("recurrence") {
            None | Some(Value::Null) => {
                return Err(RuleError::Missing {
                    field: "recurrence",
                });
            }
            Some(r) => Recurrence::from_json(r)?,
        };
        let start_date = optional_date(obj, "startDate")?;
        let end_date = optional_date(obj, "endDate")?;
        if let (Some(start), Some(end)) = (start_date, end_date)
            && end < start
        {
            return Err(RuleError::EndBeforeStart {
                field: "endDate",
                start,
                end,
            });
        }
        Ok(Self {
            recurrence,
            start_date,
            end_date,
        })
    }
}

impl<'de> Deserialize<'de> for ScheduleRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}
