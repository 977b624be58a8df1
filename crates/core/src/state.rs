//! A machine's run state.

use core::fmt;
use serde::{Deserialize, Serialize};

/// What an asset is doing. `Unknown` means nobody can tell: before its first event, or while its
/// logger is offline. It is reported as such and never guessed into running or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunState {
    Running,
    Stopped,
    Unknown,
}

impl RunState {
    pub fn from_running(running: bool) -> Self {
        if running {
            Self::Running
        } else {
            Self::Stopped
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Stopped => "STOPPED",
            Self::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
