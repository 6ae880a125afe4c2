//! The zone a zone-less timestamp is read in: UTC, a fixed offset, or an IANA zone with
//! daylight saving. Timestamps compare as UTC instants, so a naive value becomes one here.
//!
//! IANA names are chrono-tz's, the database arrow's `Tz` uses, so a zone means here what it means
//! to arrow; the enum (rather than arrow's opaque `Tz`) lets the hashing pass see UTC and skip the
//! conversion.

use chrono::{Offset, TimeZone as _};

use crate::error::ConfigError;

/// The zone naive timestamps are read in; parsed once, where the config is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum TimeZone {
    /// UTC (the default).
    #[default]
    Utc,
    /// A fixed offset east of UTC, in seconds.
    Fixed(i32),
    /// An IANA zone with daylight saving.
    Named(chrono_tz::Tz),
}

impl TimeZone {
    /// Parses `UTC`, `+03:00`, `-0530` or an IANA name.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(TimeZone::Utc);
        }
        if let Some(sign) = t.chars().next().filter(|c| *c == '+' || *c == '-') {
            let digits: String = t[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
                let h: i32 = digits[..2]
                    .parse()
                    .map_err(|_| ConfigError::BadOffset(t.to_owned()))?;
                let m: i32 = digits[2..]
                    .parse()
                    .map_err(|_| ConfigError::BadOffset(t.to_owned()))?;
                let secs = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
                return Ok(TimeZone::Fixed(secs));
            }
            return Err(ConfigError::BadOffset(t.to_owned()));
        }
        t.parse::<chrono_tz::Tz>()
            .map(TimeZone::Named)
            .map_err(|_| ConfigError::UnknownZone(t.to_owned()))
    }

    /// UTC nanoseconds of a naive local timestamp given in nanoseconds.
    #[inline]
    pub fn to_utc_nanos(self, local_nanos: i128) -> i128 {
        match self {
            TimeZone::Utc => local_nanos,
            TimeZone::Fixed(secs) => local_nanos - i128::from(secs) * 1_000_000_000,
            TimeZone::Named(tz) => {
                let secs = local_nanos.div_euclid(1_000_000_000);
                let Ok(secs) = i64::try_from(secs) else {
                    return local_nanos;
                };
                let Some(naive) = chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc())
                else {
                    return local_nanos;
                };
                // In a DST overlap the earlier instant wins; in a gap, the offset before the gap.
                let offset = match tz.offset_from_local_datetime(&naive) {
                    chrono::LocalResult::Single(o) | chrono::LocalResult::Ambiguous(o, _) => {
                        o.fix()
                    }
                    chrono::LocalResult::None => tz.offset_from_utc_datetime(&naive).fix(),
                };
                local_nanos - i128::from(offset.local_minus_utc()) * 1_000_000_000
            }
        }
    }
}

impl TryFrom<String> for TimeZone {
    type Error = ConfigError;

    fn try_from(text: String) -> Result<Self, ConfigError> {
        Self::parse(&text)
    }
}

impl From<TimeZone> for String {
    fn from(z: TimeZone) -> Self {
        z.to_string()
    }
}

impl std::fmt::Display for TimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimeZone::Utc => f.write_str("UTC"),
            TimeZone::Fixed(secs) => {
                let sign = if *secs < 0 { '-' } else { '+' };
                let m = secs.unsigned_abs() / 60;
                write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
            }
            TimeZone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse_and_print_back() {
        for text in ["UTC", "+03:00", "-05:30", "Asia/Riyadh"] {
            let z = TimeZone::parse(text).expect("zone");
            assert_eq!(z.to_string(), text);
        }
        assert_eq!(
            TimeZone::parse("+0300").ok(),
            TimeZone::parse("+03:00").ok()
        );
        assert!(TimeZone::parse("Mars/Base").is_err());
    }
}
