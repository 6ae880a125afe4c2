//! `[watch]`: how `recon watch` runs a config on a schedule (`every`, `keep`, `listen`, `out`,
//! `daily_summary`). Each value is checked here, when the config loads; the command line's
//! flags win over them (`settings`).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// `[watch]` in `recon.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// The interval between runs, e.g. `"15m"` (at least one second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// How many runs' report folders are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<usize>,
    /// Where `/metrics`, `/healthz` and the latest report are served, e.g. `"127.0.0.1:9187"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// The folder of the runs' reports (relative to the config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// When the daily summary is due: `"08:00"` (UTC) or `"08:00 Europe/Berlin"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_summary: Option<String>,
}

impl WatchConfig {
    /// Checks every value that is set.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(e) = &self.every {
            parse_every(e).map_err(|m| ConfigError::Invalid(format!("[watch] every: {m}")))?;
        }
        if self.keep == Some(0) {
            return Err(ConfigError::Invalid(
                "[watch] keep: keep at least one run".into(),
            ));
        }
        if let Some(l) = &self.listen {
            parse_listen(l).map_err(|m| ConfigError::Invalid(format!("[watch] listen: {m}")))?;
        }
        if let Some(d) = &self.daily_summary {
            DailyAt::parse(d)
                .map_err(|m| ConfigError::Invalid(format!("[watch] daily_summary: {m}")))?;
        }
        Ok(())
    }
}

/// An interval like `15m`, `2s` or `1h 30m`: at least one second, in whole seconds.
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration like 15m: {e}"))?;
    if d < Duration::from_secs(1) || d.subsec_nanos() != 0 {
        return Err(format!("`{text}`: use whole seconds, at least 1s"));
    }
    Ok(d)
}

/// A listen address: `IP:PORT` (`[::1]:9187` for IPv6).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|e| format!("`{text}` is not an address like 127.0.0.1:9187: {e}"))
}

/// A time of day in a time zone: when the daily summary is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyAt {
    /// Hour, 0 to 23.
    pub hour: u32,
    /// Minute, 0 to 59.
    pub minute: u32,
    /// The zone the time is in (UTC unless one is given).
    pub zone: chrono_tz::Tz,
}

impl DailyAt {
    /// Parses `HH:MM`, optionally followed by an IANA zone name (`08:00 Europe/Berlin`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split_whitespace();
        let time = parts.next().unwrap_or_default();
        let zone = match parts.next() {
            None => chrono_tz::UTC,
            Some(z) => z
                .parse::<chrono_tz::Tz>()
                .map_err(|_| format!("unknown time zone `{z}` (use an IANA name)"))?,
        };
        if parts.next().is_some() {
            return Err(format!("`{text}`: use HH:MM and an optional zone"));
        }
        let bad = || format!("`{time}` is not a time like 08:00");
        let (h, m) = time.split_once(':').ok_or_else(bad)?;
        let hour: u32 = h.parse().map_err(|_| bad())?;
        let minute: u32 = m.parse().map_err(|_| bad())?;
        if hour > 23 || minute > 59 || m.len() != 2 {
            return Err(bad());
        }
        Ok(Self { hour, minute, zone })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_when_the_config_loads() {
        assert!(parse_every("15m").is_ok());
        assert!(parse_every("500ms").is_err());
        assert!(parse_every("soon").is_err());
        assert!(parse_listen("127.0.0.1:9187").is_ok());
        assert!(parse_listen("localhost").is_err());
        assert_eq!(
            DailyAt::parse("08:05").expect("time"),
            DailyAt {
                hour: 8,
                minute: 5,
                zone: chrono_tz::UTC
            }
        );
        assert_eq!(
            DailyAt::parse("23:59 Europe/Berlin").expect("zone").zone,
            chrono_tz::Europe::Berlin
        );
        for bad in ["24:00", "8", "08:5", "08:00 Mars/Base", "08:00 UTC extra"] {
            assert!(DailyAt::parse(bad).is_err(), "{bad}");
        }
        let keep_none = WatchConfig {
            keep: Some(0),
            ..WatchConfig::default()
        };
        assert!(keep_none.validate().is_err());
    }
}
