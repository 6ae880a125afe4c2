//! The report's record of a run's notifications: one entry per destination that had something
//! to send, part of the `report.json` contract (`Report.notifications`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::alerts::AlertKind;

/// One destination's notification: what it was about and whether it arrived. Never holds a
/// destination's URL or token.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationOutcome {
    /// The destination's name (`[[alerts]] name`, or its kind).
    pub destination: String,
    /// `slack`, `webhook`, `alertmanager` or `command`.
    pub kind: AlertKind,
    /// Why it was sent: `change`, `reminder`, `summary` or `test`.
    pub event: NotificationEvent,
    /// The tables the message was about.
    pub tables: Vec<String>,
    /// Whether the destination accepted it.
    pub sent: bool,
    /// Tries made (at most 3).
    pub attempts: u32,
    /// Why it was not sent (no URL or token in it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Something worth knowing about a sent message (no history folder, state not saved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why a notification was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotificationEvent {
    /// A table's level changed since the last message (resolved included).
    Change,
    /// Tables stayed at `critical` or above for `remind_every`.
    Reminder,
    /// The daily summary.
    Summary,
    /// `recon alert test`.
    Test,
}

impl NotificationEvent {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::Change => "change",
            NotificationEvent::Reminder => "reminder",
            NotificationEvent::Summary => "summary",
            NotificationEvent::Test => "test",
        }
    }
}
