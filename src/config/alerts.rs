//! `[[alerts]]`: where notifications go (Slack, a webhook, Alertmanager, a command), from which
//! level, for which tables, and how often reminders repeat. Validated with the rest of the
//! config; secrets are named here (`url_env`, `url_file`) and only read when a notifier is made.

use std::collections::BTreeSet;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The kind of a destination.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// A Slack incoming webhook: a short text and blocks.
    Slack,
    /// A versioned JSON body sent to a URL (`docs/alerts.md`).
    Webhook,
    /// Alertmanager's v2 API: one alert per table.
    Alertmanager,
    /// A program run with the webhook body on stdin.
    Command,
}

impl AlertKind {
    /// The lowercase name used in the config and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Slack => "slack",
            AlertKind::Webhook => "webhook",
            AlertKind::Alertmanager => "alertmanager",
            AlertKind::Command => "command",
        }
    }

    /// Whether it sends over HTTP (and so needs the `monitor` feature).
    pub fn is_http(self) -> bool {
        self != AlertKind::Command
    }
}

/// The lowest level a destination hears about (`warn` and `fail` are the older names of
/// `warning` and `critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertLevel {
    /// `warning` and above.
    #[serde(alias = "warn")]
    Warning,
    /// `critical` and above (the default).
    #[serde(alias = "fail")]
    Critical,
    /// `rollback` and above.
    Rollback,
}

/// A duration as written in `recon.toml` (`"15m"`, `"1h 30m"`, `"30s"`), parsed by `humantime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct HumanDuration(pub Duration);

impl TryFrom<String> for HumanDuration {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let d = humantime::parse_duration(text.trim())
            .map_err(|e| format!("`{text}` is not a duration like \"15m\": {e}"))?;
        if d.is_zero() {
            return Err(format!("`{text}`: a duration must be longer than zero"));
        }
        Ok(Self(d))
    }
}

impl From<HumanDuration> for String {
    fn from(d: HumanDuration) -> Self {
        humantime::format_duration(d.0).to_string()
    }
}

/// One `[[alerts]]` destination. Its `Debug` shows neither a `url` nor the command's
/// arguments (either may hold a secret).
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// `slack`, `webhook`, `alertmanager` or `command`.
    pub kind: AlertKind,
    /// The name outcomes and logs show (never the URL); default: the kind, numbered when a
    /// kind occurs more than once (`webhook-2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The lowest table level this destination hears about (`warning`, `critical` or
    /// `rollback`; default `critical`).
    #[serde(default = "default_min_level")]
    pub min_level: AlertLevel,
    /// Only these table pairs (default: every pair).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// The URL written in the config: visible to anyone who reads it (only `webhook` and
    /// `alertmanager`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The environment variable holding the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// A file holding the URL (relative to the config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<String>,
    /// Repeat while a table stays at `critical` or above, this often (`"15m"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_every: Option<HumanDuration>,
    /// `command`: the program and its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// `command`: how long the program may run (default `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// `alertmanager`: how long a firing alert stays firing without a new run re-posting it
    /// (its `endsAt`; default `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_timeout: Option<HumanDuration>,
}

impl std::fmt::Debug for AlertConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertConfig")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("min_level", &self.min_level)
            .field("tables", &self.tables)
            .field("url", &self.url.as_ref().map(|_| "***"))
            .field("url_env", &self.url_env)
            .field("url_file", &self.url_file)
            .field("remind_every", &self.remind_every)
            .field(
                "command",
                &self
                    .command
                    .first()
                    .map(|p| format!("{p} (+{} arguments, not shown)", self.command.len() - 1)),
            )
            .field("timeout", &self.timeout)
            .field("resolve_timeout", &self.resolve_timeout)
            .finish()
    }
}

fn default_min_level() -> AlertLevel {
    AlertLevel::Critical
}

/// The names of a config's destinations, in order: `name`, or the kind numbered from its second
/// occurrence (`slack`, `slack-2`).
pub fn destination_names(alerts: &[AlertConfig]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<AlertKind, usize> = std::collections::BTreeMap::new();
    alerts
        .iter()
        .map(|a| {
            let n = seen.entry(a.kind).or_insert(0);
            *n += 1;
            a.name.clone().unwrap_or_else(|| {
                if *n == 1 {
                    a.kind.as_str().to_owned()
                } else {
                    format!("{}-{n}", a.kind.as_str())
                }
            })
        })
        .collect()
}

/// Checks every `[[alerts]]` entry against the kinds' rules and the config's table names.
pub fn validate(alerts: &[AlertConfig], tables: &[&str]) -> Result<(), ConfigError> {
    let names = destination_names(alerts);
    let mut seen = BTreeSet::new();
    for (a, name) in alerts.iter().zip(&names) {
        let at = format!("[[alerts]] `{name}`");
        if name.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "an [[alerts]] has an empty name".into(),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "two [[alerts]] are named `{name}`; give each a unique `name`"
            )));
        }
        if a.kind.is_http() && !cfg!(feature = "monitor") {
            return Err(ConfigError::Invalid(format!(
                "{at}: kind `{}` sends over HTTP, which this build of recon lacks: it was built \
                 without the `monitor` feature (the default builds have it; or build with \
                 `--features monitor`)",
                a.kind.as_str()
            )));
        }
        for t in a.tables.iter().flatten() {
            if !tables.contains(&t.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "{at}: `tables` names `{t}`, which is no [[tables]] pair"
                )));
            }
        }
        validate_target(a, &at)?;
    }
    Ok(())
}

/// Where a destination sends: exactly one URL source for the HTTP kinds, a program for
/// `command`, and only the fields its kind reads.
fn validate_target(a: &AlertConfig, at: &str) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(format!("{at}: {m}")));
    let sources = [&a.url, &a.url_env, &a.url_file]
        .iter()
        .filter(|s| s.is_some())
        .count();
    match a.kind {
        AlertKind::Command => {
            if sources > 0 {
                return invalid("a `command` takes no url, url_env or url_file".into());
            }
            if a.command.first().is_none_or(|p| p.trim().is_empty()) {
                return invalid("kind `command` needs `command = [\"program\", \"arg\"]`".into());
            }
        }
        kind => {
            if !a.command.is_empty() || a.timeout.is_some() {
                return invalid(format!(
                    "kind `{}` takes no command or timeout",
                    kind.as_str()
                ));
            }
            if sources != 1 {
                let allowed = if kind == AlertKind::Slack {
                    "`url_env` or `url_file`"
                } else {
                    "`url_env`, `url_file` or `url`"
                };
                return invalid(format!("give exactly one of {allowed}"));
            }
            if kind == AlertKind::Slack && a.url.is_some() {
                return invalid(
                    "a Slack webhook URL is a secret: give it with `url_env` or `url_file`, \
                     not `url`"
                        .into(),
                );
            }
        }
    }
    if a.resolve_timeout.is_some() && a.kind != AlertKind::Alertmanager {
        return invalid("`resolve_timeout` is a setting of kind `alertmanager` only".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<AlertConfig>, String> {
        #[derive(Deserialize)]
        struct Doc {
            alerts: Vec<AlertConfig>,
        }
        let doc: Doc = toml::from_str(text).map_err(|e| e.to_string())?;
        validate(&doc.alerts, &["orders", "customers"]).map_err(|e| e.to_string())?;
        Ok(doc.alerts)
    }

    #[test]
    fn names_are_derived_per_kind() {
        let a = parse(
            "[[alerts]]\nkind = \"command\"\ncommand = [\"cat\"]\n\
             [[alerts]]\nkind = \"command\"\ncommand = [\"cat\"]\n\
             [[alerts]]\nkind = \"command\"\nname = \"pager\"\ncommand = [\"cat\"]\n",
        )
        .expect("valid");
        assert_eq!(destination_names(&a), ["command", "command-2", "pager"]);
        assert_eq!(a[0].min_level, AlertLevel::Critical);
    }

    #[test]
    fn durations_levels_and_tables_are_checked() {
        let cmd = "[[alerts]]\nkind = \"command\"\ncommand = [\"cat\"]\n";
        let a = parse(&format!("{cmd}remind_every = \"15m\"\n")).expect("valid");
        assert_eq!(
            a[0].remind_every,
            Some(HumanDuration(Duration::from_mins(15)))
        );
        let e = parse(&format!("{cmd}remind_every = \"soon\"\n")).expect_err("duration");
        assert!(e.contains("soon"), "{e}");
        let e = parse(&format!("{cmd}min_level = \"pass\"\n")).expect_err("level");
        assert!(e.contains("min_level"), "{e}");
        let e = parse(&format!("{cmd}tables = [\"nope\"]\n")).expect_err("table");
        assert!(e.contains("`nope`"), "{e}");
    }

    #[test]
    fn debug_shows_no_url_and_no_command_arguments() {
        let a =
            parse("[[alerts]]\nkind = \"command\"\ncommand = [\"page\", \"--token=S3CRET-ARG\"]\n")
                .expect("valid");
        let shown = format!("{:?}", a[0]);
        assert!(!shown.contains("S3CRET-ARG"), "{shown}");
        assert!(shown.contains("page (+1 arguments"), "{shown}");
        let mut with_url = a[0].clone();
        with_url.url = Some("http://host/S3CRET-PATH".into());
        let shown = format!("{with_url:?}");
        assert!(!shown.contains("S3CRET-PATH"), "{shown}");
    }

    #[test]
    fn url_sources_follow_the_kind() {
        let e = parse("[[alerts]]\nkind = \"command\"\n").expect_err("no program");
        assert!(e.contains("command = ["), "{e}");
        if cfg!(feature = "monitor") {
            let e = parse("[[alerts]]\nkind = \"slack\"\nurl = \"https://hooks.example/x\"\n")
                .expect_err("literal slack url");
            assert!(e.contains("secret"), "{e}");
            let e = parse("[[alerts]]\nkind = \"webhook\"\nurl = \"u\"\nurl_env = \"V\"\n")
                .expect_err("two sources");
            assert!(e.contains("exactly one"), "{e}");
            parse("[[alerts]]\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:9093\"\n")
                .expect("literal alertmanager url");
        } else {
            let e = parse("[[alerts]]\nkind = \"webhook\"\nurl_env = \"V\"\n")
                .expect_err("no monitor feature");
            assert!(e.contains("`monitor` feature"), "{e}");
        }
    }
}
