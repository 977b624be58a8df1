//! Channels and rules: what an admin sends, checked once here, and kept as the JSON of the
//! checked form (store: `AlertDoc`). Nothing unchecked is ever stored, so what is read back is
//! used as it is.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{AssetId, Email, Name, Refusal};

use super::guard::{self, Targets};

/// Where a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A JSON body signed with HMAC-SHA256 (docs/ALERTS.md).
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A Microsoft Teams incoming webhook (Workflows), an Adaptive Card.
    Teams,
    /// Email through `--smtp-url`.
    Email,
}

/// A channel as an admin sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    pub name: Option<String>,
    pub kind: Option<ChannelKind>,
    /// The receiver's URL (webhook, slack, teams): http or https.
    pub url: Option<String>,
    /// The addresses of an email channel.
    pub to: Option<Vec<String>>,
}

/// A channel as stored and shown to admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Channel {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    pub kind: ChannelKind,
    pub url: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// The key a webhook's receiver checks the signature with (webhook channels).
    pub secret: Option<String>,
}

/// Most addresses of one email channel.
const MAX_RECIPIENTS: usize = 50;
/// Longest URL of a receiver.
const MAX_URL: usize = 2048;

impl Channel {
    /// Checks what an admin sent; `secret`: the key to keep (an edited webhook channel keeps
    /// its own), or a new one is made.
    pub fn check(
        body: ChannelBody,
        secret: Option<String>,
        targets: &Targets,
        smtp: bool,
    ) -> Result<Self, Refusal> {
        let name = Name::parse(body.name.as_deref().unwrap_or_default(), "name")?.to_string();
        let kind = body.kind.ok_or_else(|| {
            Refusal::new(
                "invalid_channel",
                "kind is required: webhook, slack, teams or email",
            )
        })?;
        let (url, to) = match kind {
            ChannelKind::Email => {
                if !smtp {
                    return Err(Refusal::new(
                        "smtp_not_configured",
                        "email channels need the server started with --smtp-url",
                    ));
                }
                if body.url.is_some() {
                    return Err(Refusal::new(
                        "invalid_channel",
                        "an email channel has no url, only to",
                    ));
                }
                (None, recipients(body.to, "invalid_channel")?)
            }
            _ => {
                if body.to.is_some() {
                    return Err(Refusal::new(
                        "invalid_channel",
                        "only an email channel has to",
                    ));
                }
                let raw = body.url.unwrap_or_default();
                if raw.len() > MAX_URL {
                    return Err(Refusal::new(
                        "invalid_url",
                        format!("url: at most {MAX_URL} characters"),
                    ));
                }
                let url = guard::check_url(&raw, targets)?;
                (Some(url.to_string()), Vec::new())
            }
        };
        let secret = (kind == ChannelKind::Webhook)
            .then(|| secret.unwrap_or_else(|| crate::secrets::new_secret("whsec_")));
        Ok(Self {
            id: 0,
            name,
            kind,
            url,
            to,
            secret,
        })
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("a channel serializes")
    }

    /// A stored channel, with its id.
    pub fn from_stored(id: i64, json: &str) -> Option<Self> {
        serde_json::from_str(json)
            .map(|c: Self| Self { id, ..c })
            .inspect_err(|e| tracing::error!(channel = id, error = %e, "a stored alert channel cannot be read"))
            .ok()
    }
}

/// The addresses of an email channel or a report: 1 to [`MAX_RECIPIENTS`], each checked; a
/// refusal says `code`.
pub fn recipients(to: Option<Vec<String>>, code: &'static str) -> Result<Vec<String>, Refusal> {
    let to = to.unwrap_or_default();
    if to.is_empty() || to.len() > MAX_RECIPIENTS {
        return Err(Refusal::new(
            code,
            format!("to: 1 to {MAX_RECIPIENTS} email addresses"),
        ));
    }
    to.iter()
        .map(|a| Email::parse(a).map(|e| e.to_string()))
        .collect()
}

/// The machines a rule or report names, each one of the tenant's `assets` (another tenant's id
/// is unknown here, and refused as such), repeats dropped; None: all of them, also those added
/// later. A refusal says `code`.
pub fn machines(
    ids: Option<Vec<AssetId>>,
    assets: &[AssetId],
    code: &'static str,
) -> Result<Option<Vec<AssetId>>, Refusal> {
    let Some(ids) = ids else {
        return Ok(None);
    };
    if ids.is_empty() || ids.len() > MAX_LISTED {
        return Err(Refusal::new(
            code,
            format!("asset_ids: 1 to {MAX_LISTED} machines, or null for all"),
        ));
    }
    let mut out: Vec<AssetId> = Vec::with_capacity(ids.len());
    for id in ids {
        if !assets.contains(&id) {
            return Err(Refusal::new(
                code,
                format!("asset_ids: no machine {} in this tenant", id.0),
            ));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(Some(out))
}

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A machine STOPPED for `threshold_s` (inside planned time, with `only_in_planned_time`).
    StopLongerThan,
    /// A logger marked offline (and still offline `threshold_s` later, when given).
    LoggerOffline,
    /// A shift's availability below `threshold_pct`.
    AvailabilityBelow,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StopLongerThan => "stop_longer_than",
            Self::LoggerOffline => "logger_offline",
            Self::AvailabilityBelow => "availability_below",
        }
    }
}

/// A rule as an admin sends it (every field; a change sends the whole rule again).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub name: Option<String>,
    pub kind: Option<RuleKind>,
    /// The machines watched (absent or null: all of the tenant's, also those added later).
    pub asset_ids: Option<Vec<AssetId>>,
    #[schema(minimum = 1, maximum = 604800)]
    pub threshold_s: Option<i64>,
    #[schema(minimum = 0, maximum = 100)]
    pub threshold_pct: Option<f64>,
    #[serde(default)]
    pub only_in_planned_time: bool,
    #[serde(default)]
    pub channel_ids: Vec<i64>,
    #[schema(minimum = 1, maximum = 604800)]
    pub escalate_after_s: Option<i64>,
    #[serde(default)]
    pub escalate_channel_ids: Vec<i64>,
    #[serde(default)]
    pub notify_on_clear: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A rule as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rule {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    pub kind: RuleKind,
    pub asset_ids: Option<Vec<AssetId>>,
    pub threshold_s: Option<i64>,
    pub threshold_pct: Option<f64>,
    pub only_in_planned_time: bool,
    pub channel_ids: Vec<i64>,
    pub escalate_after_s: Option<i64>,
    pub escalate_channel_ids: Vec<i64>,
    pub notify_on_clear: bool,
    pub enabled: bool,
}

/// A week: the longest threshold or escalation delay.
const MAX_DELAY_S: i64 = 604_800;
/// Most machines one rule names, and most channels.
const MAX_LISTED: usize = 1000;

impl Rule {
    /// Checks what an admin sent against the tenant's `channels` and `assets` (ids of another
    /// tenant's are unknown here, and refused as such).
    pub fn check(body: RuleBody, channels: &[i64], assets: &[AssetId]) -> Result<Self, Refusal> {
        let invalid = |m: String| Refusal::new("invalid_rule", m);
        let name = Name::parse(body.name.as_deref().unwrap_or_default(), "name")?.to_string();
        let kind = body.kind.ok_or_else(|| {
            invalid(
                "kind is required: stop_longer_than, logger_offline or availability_below".into(),
            )
        })?;
        let delay = |v: Option<i64>, field: &str| -> Result<Option<i64>, Refusal> {
            match v {
                Some(s) if !(1..=MAX_DELAY_S).contains(&s) => Err(invalid(format!(
                    "{field} must be between 1 and {MAX_DELAY_S} seconds"
                ))),
                v => Ok(v),
            }
        };
        let threshold_s = delay(body.threshold_s, "threshold_s")?;
        let escalate_after_s = delay(body.escalate_after_s, "escalate_after_s")?;
        match kind {
            RuleKind::StopLongerThan if threshold_s.is_none() => {
                return Err(invalid("a stop_longer_than rule needs threshold_s".into()));
            }
            RuleKind::AvailabilityBelow => {
                if !body.threshold_pct.is_some_and(|p| p > 0.0 && p <= 100.0) {
                    return Err(invalid(
                        "an availability_below rule needs threshold_pct, above 0 and at most 100"
                            .into(),
                    ));
                }
                if threshold_s.is_some() {
                    return Err(invalid(
                        "threshold_s does not belong to availability_below rules".into(),
                    ));
                }
            }
            _ if body.threshold_pct.is_some() => {
                return Err(invalid(
                    "threshold_pct belongs to availability_below rules".into(),
                ));
            }
            _ => {}
        }
        if body.only_in_planned_time && kind != RuleKind::StopLongerThan {
            return Err(invalid(
                "only_in_planned_time applies to stop_longer_than rules".into(),
            ));
        }
        let known = |ids: &[i64], field: &str| -> Result<Vec<i64>, Refusal> {
            if ids.len() > MAX_LISTED {
                return Err(invalid(format!("{field}: at most {MAX_LISTED}")));
            }
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if !channels.contains(id) {
                    return Err(invalid(format!("{field}: no channel {id} in this tenant")));
                }
                if !out.contains(id) {
                    out.push(*id);
                }
            }
            Ok(out)
        };
        let channel_ids = known(&body.channel_ids, "channel_ids")?;
        if channel_ids.is_empty() {
            return Err(invalid("channel_ids: at least one channel".into()));
        }
        let escalate_channel_ids = known(&body.escalate_channel_ids, "escalate_channel_ids")?;
        if escalate_after_s.is_some() == escalate_channel_ids.is_empty() {
            return Err(invalid(
                "escalate_after_s and escalate_channel_ids go together".into(),
            ));
        }
        let asset_ids = machines(body.asset_ids, assets, "invalid_rule")?;
        Ok(Self {
            id: 0,
            name,
            kind,
            asset_ids,
            threshold_s,
            threshold_pct: body.threshold_pct,
            only_in_planned_time: body.only_in_planned_time,
            channel_ids,
            escalate_after_s,
            escalate_channel_ids,
            notify_on_clear: body.notify_on_clear,
            enabled: body.enabled,
        })
    }

    /// Whether the rule watches this machine.
    pub fn watches(&self, asset_id: AssetId) -> bool {
        self.asset_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&asset_id))
    }

    /// Whether it names this channel.
    pub fn uses(&self, channel_id: i64) -> bool {
        self.channel_ids.contains(&channel_id) || self.escalate_channel_ids.contains(&channel_id)
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("a rule serializes")
    }

    pub fn from_stored(id: i64, json: &str) -> Option<Self> {
        serde_json::from_str(json)
            .map(|r: Self| Self { id, ..r })
            .inspect_err(
                |e| tracing::error!(rule = id, error = %e, "a stored alert rule cannot be read"),
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: RuleKind) -> RuleBody {
        RuleBody {
            name: Some("Long stop".into()),
            kind: Some(kind),
            asset_ids: None,
            threshold_s: Some(600),
            threshold_pct: None,
            only_in_planned_time: false,
            channel_ids: vec![1],
            escalate_after_s: None,
            escalate_channel_ids: vec![],
            notify_on_clear: true,
            enabled: true,
        }
    }

    #[test]
    fn a_rule_names_only_the_tenants_channels_and_machines() {
        let ok = Rule::check(body(RuleKind::StopLongerThan), &[1], &[AssetId(5)]).unwrap();
        assert_eq!(ok.threshold_s, Some(600));
        let other_channel = Rule::check(body(RuleKind::StopLongerThan), &[2], &[]).unwrap_err();
        assert!(
            other_channel.message.contains("no channel 1"),
            "{other_channel:?}"
        );
        let mut b = body(RuleKind::StopLongerThan);
        b.asset_ids = Some(vec![AssetId(6)]);
        assert!(Rule::check(b, &[1], &[AssetId(5)]).is_err());
    }

    #[test]
    fn each_kind_needs_its_own_fields() {
        let mut b = body(RuleKind::StopLongerThan);
        b.threshold_s = None;
        assert!(Rule::check(b, &[1], &[]).is_err());
        let mut b = body(RuleKind::LoggerOffline);
        b.threshold_s = None;
        assert!(Rule::check(b, &[1], &[]).is_ok());
        let mut b = body(RuleKind::LoggerOffline);
        b.only_in_planned_time = true;
        assert!(Rule::check(b, &[1], &[]).is_err());
        let mut b = body(RuleKind::StopLongerThan);
        b.escalate_after_s = Some(60);
        assert!(
            Rule::check(b, &[1], &[]).is_err(),
            "escalation without channels"
        );
        let mut b = body(RuleKind::StopLongerThan);
        b.threshold_s = Some(0);
        assert!(Rule::check(b, &[1], &[]).is_err());
        let mut b = body(RuleKind::AvailabilityBelow);
        b.threshold_s = None;
        b.threshold_pct = Some(75.0);
        assert_eq!(
            Rule::check(b.clone(), &[1], &[]).unwrap().threshold_pct,
            Some(75.0)
        );
        for bad in [None, Some(0.0), Some(100.5), Some(f64::NAN)] {
            b.threshold_pct = bad;
            assert!(Rule::check(b.clone(), &[1], &[]).is_err(), "{bad:?}");
        }
        let mut b = body(RuleKind::StopLongerThan);
        b.threshold_pct = Some(50.0);
        assert!(
            Rule::check(b, &[1], &[]).is_err(),
            "a percentage on a stop rule"
        );
    }

    #[test]
    fn what_is_stored_reads_back_the_same() {
        let rule = Rule::check(body(RuleKind::StopLongerThan), &[1], &[]).unwrap();
        assert_eq!(
            Rule::from_stored(7, &rule.to_stored()),
            Some(Rule { id: 7, ..rule })
        );
    }
}
