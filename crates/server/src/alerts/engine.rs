//! The evaluator: which alerts open, clear and escalate, decided from the live state and a
//! timer per threshold, not by polling. It runs on the leader only (one evaluator across
//! replicas); the database's unique indexes make a second one harmless all the same.
//!
//! [`Evaluator`] is the decision, pure: it is told of state changes, logger status and time,
//! and answers [`Action`]s; `alerts::run` feeds it from the live hub and carries the actions out.
//!
//! # What counts
//! - A stop is alerted once, when it has lasted the rule's threshold (counting only planned
//!   time with `only_in_planned_time`). If it ended before the timer fired but after it crossed,
//!   while the evaluator knew of it, the alert is opened and cleared at once: an alert is about
//!   the stop, not about a sample.
//! - A stop the evaluator learns of only after it crossed (a logger catching up after an
//!   outage) is alerted if the machine is still stopped, and not if the same report already
//!   says it runs again: late events do not fire alerts for stops that are over.
//! - A logger is alerted when it is marked offline (and still offline `threshold_s` later).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono_tz::Tz;

use super::config::{Rule, RuleKind};
use crate::calendar::{self, Calendars, Span};
use crate::domain::{AssetId, TenantId};
use crate::store::Alert;

/// How late after its crossing a stop may become known and still count as seen live.
pub const GRACE_MS: i64 = 5_000;
/// How far ahead planned time is looked for (a stop that began before a long shutdown).
const HORIZON_MS: i64 = 31 * 86_400_000;

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Asset(AssetId),
    Logger(String),
}

/// One rule's alert about one subject: at most one is open at a time.
pub type Key = (i64, Subject);

/// A tenant's planned production time: its calendar, time zone and planned downtime.
#[derive(Debug, Clone)]
pub struct PlannedTime {
    pub tz: Tz,
    pub calendar: Calendars,
    /// Planned downtime: of one machine, or (None) of all.
    pub downtime: Vec<(Option<AssetId>, Span)>,
}

impl PlannedTime {
    fn downtime_of(&self, asset: AssetId) -> Vec<Span> {
        self.downtime
            .iter()
            .filter(|(a, _)| a.is_none_or(|a| a == asset))
            .map(|(_, s)| *s)
            .collect()
    }

    /// Whether the calendar of `t`'s local day has no shift (the day is then the "shift").
    fn no_shifts_on(&self, t: i64) -> bool {
        self.calendar
            .parsed_on(calendar::local_date(self.tz, t))
            .is_empty()
    }

    /// Planned time of `asset` in `[from, to)`, ms.
    pub fn planned_ms(&self, asset: AssetId, from: i64, to: i64) -> i64 {
        calendar::planned_spans(&self.calendar, self.tz, from, to, &self.downtime_of(asset))
            .iter()
            .map(|s| s.len_ms())
            .sum()
    }

    /// The shift (a day in the tenant's zone, without a calendar) that `t` lies in, if any.
    pub fn shift_at(&self, t: i64) -> Option<Span> {
        if self.no_shifts_on(t) {
            return Some(calendar::today(self.tz, t));
        }
        calendar::occurrences(&self.calendar, self.tz, t - 86_400_000, t + 86_400_000)
            .into_iter()
            .map(|o| o.span)
            .find(|s| s.contains(t))
    }

    /// The first shift that ends after `t`.
    pub fn next_shift_end(&self, t: i64) -> Option<Span> {
        if self.no_shifts_on(t) {
            return Some(calendar::today(self.tz, t));
        }
        calendar::occurrences(&self.calendar, self.tz, t, t + 8 * 86_400_000)
            .into_iter()
            .map(|o| o.span)
            .filter(|s| s.end > t)
            .min_by_key(|s| s.end)
    }

    /// When a stop of `asset` that began at `since` has lasted `threshold_ms` of planned time.
    pub fn crossing(&self, asset: AssetId, since: i64, threshold_ms: i64) -> Option<i64> {
        let downtime = self.downtime_of(asset);
        let spans = calendar::planned_spans(
            &self.calendar,
            self.tz,
            since,
            since + HORIZON_MS,
            &downtime,
        );
        let mut left = threshold_ms;
        for span in spans {
            if span.len_ms() >= left {
                return Some(span.start + left);
            }
            left -= span.len_ms();
        }
        None
    }
}

/// A machine's state as a live message (or the database, at start) tells it.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub tenant: TenantId,
    pub asset: AssetId,
    pub name: &'a str,
    pub logger_id: &'a str,
    /// None: no event yet.
    pub running: Option<bool>,
    /// Since when (the change's time).
    pub ts: i64,
}

/// A machine as the evaluator knows it.
#[derive(Debug, Clone)]
struct Watch {
    tenant: TenantId,
    name: String,
    logger_id: String,
    /// When its current stop began; None while it runs (or before its first event).
    stopped_since: Option<i64>,
    /// When the evaluator learned of that stop.
    learned_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Stop {
        asset: AssetId,
        since: i64,
    },
    Offline {
        rule: i64,
        tenant: TenantId,
        logger: String,
        since: i64,
    },
    Escalate {
        key: Key,
        alert: i64,
    },
    /// A shift ends: availability rules are settled for it.
    ShiftEnd {
        tenant: TenantId,
        shift: Span,
    },
    /// A stopped machine's shift can no longer reach an availability rule's threshold, if it
    /// is still the same stop.
    Availability {
        rule: i64,
        asset: AssetId,
        since: i64,
        shift: Span,
    },
}

/// Which stop of which machine to look at again for an availability rule.
#[derive(Debug, Clone, Copy)]
pub struct Recheck {
    pub tenant: TenantId,
    pub rule: i64,
    pub asset: AssetId,
    pub since: i64,
    pub shift: Span,
}

/// An open alert as the evaluator keeps it.
#[derive(Debug, Clone)]
struct Open {
    id: i64,
    tenant: TenantId,
    /// Of a stop rule (counted in `Evaluator::open_stops`).
    stop: bool,
}

/// A tenant's stop rules with one threshold: a stop crosses it once for all of them.
#[derive(Debug)]
struct StopGroup {
    threshold_s: Option<i64>,
    planned_only: bool,
    rules: Vec<Arc<Rule>>,
    /// Whether one of them watches every machine.
    all: bool,
}

impl StopGroup {
    fn watches(&self, asset: AssetId) -> bool {
        self.all || self.rules.iter().any(|r| r.watches(asset))
    }
}

/// What the evaluator decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Open {
        key: Key,
        tenant: TenantId,
        rule: Rule,
        /// The machine (stop alerts).
        asset: Option<(AssetId, String)>,
        logger_id: String,
        since: i64,
        /// Set when the stop was over already: the alert opens cleared.
        cleared_at: Option<i64>,
        /// How long the threshold was (ms), for the message.
        threshold_ms: i64,
    },
    Clear {
        tenant: TenantId,
        alert: i64,
        at: i64,
        /// The rule's channels are told (None: the rule is gone or off; cleared silently).
        rule: Option<Rule>,
        /// How long the stop or silence lasted.
        lasted_ms: i64,
    },
    Escalate {
        tenant: TenantId,
        alert: i64,
        rule: Rule,
    },
    /// An availability rule's machine is to be measured over its shift: during the shift
    /// (`ended` false: can it still reach the threshold?) or at its end.
    Availability {
        tenant: TenantId,
        rule: Rule,
        asset: (AssetId, String),
        logger_id: String,
        shift: Span,
        /// The machine's current stop, when it stands.
        stop_since: Option<i64>,
        ended: bool,
    },
}

#[derive(Default)]
pub struct Evaluator {
    /// Shared, so that looking at a tenant's rules on every change copies no rule.
    rules: HashMap<TenantId, Vec<Arc<Rule>>>,
    planned: HashMap<TenantId, PlannedTime>,
    assets: HashMap<AssetId, Watch>,
    /// Loggers marked offline, with their last contact.
    offline: HashMap<(TenantId, String), i64>,
    open: HashMap<Key, Open>,
    timers: BTreeSet<(i64, Timer)>,
    /// The one stop timer of each stopped machine (its due time): the earliest crossing of
    /// its rules not yet fired. Removed when the machine runs, so that timers stay as many as
    /// the machines, whatever the number of rules and stops.
    stop_due: HashMap<AssetId, i64>,
    /// The enabled rules of each tenant by kind, and its stop rules by threshold.
    by_kind: HashMap<(TenantId, RuleKind), Vec<Arc<Rule>>>,
    stop_groups: HashMap<TenantId, Vec<StopGroup>>,
    /// Open stop alerts per machine: a machine without one is cleared of nothing when it runs.
    open_stops: HashMap<AssetId, usize>,
}

impl Evaluator {
    /// The rules of every tenant, and the planned time of each tenant that has rules.
    /// `now`: when the first shift ends are looked for.
    pub fn new(
        rules: HashMap<TenantId, Vec<Rule>>,
        planned: HashMap<TenantId, PlannedTime>,
        now: i64,
    ) -> Self {
        let rules: HashMap<TenantId, Vec<Arc<Rule>>> = rules
            .into_iter()
            .map(|(t, rules)| (t, rules.into_iter().map(Arc::new).collect()))
            .collect();
        let mut by_kind: HashMap<(TenantId, RuleKind), Vec<Arc<Rule>>> = HashMap::new();
        let mut stop_groups: HashMap<TenantId, Vec<StopGroup>> = HashMap::new();
        for (tenant, rules) in &rules {
            for rule in rules.iter().filter(|r| r.enabled) {
                by_kind
                    .entry((*tenant, rule.kind))
                    .or_default()
                    .push(rule.clone());
                if rule.kind != RuleKind::StopLongerThan {
                    continue;
                }
                let groups = stop_groups.entry(*tenant).or_default();
                let how = (rule.threshold_s, rule.only_in_planned_time);
                let at = groups
                    .iter()
                    .position(|g| (g.threshold_s, g.planned_only) == how);
                let group = match at {
                    Some(at) => &mut groups[at],
                    None => {
                        groups.push(StopGroup {
                            threshold_s: how.0,
                            planned_only: how.1,
                            rules: Vec::new(),
                            all: false,
                        });
                        groups.last_mut().expect("just pushed")
                    }
                };
                group.all |= rule.asset_ids.is_none();
                group.rules.push(rule.clone());
            }
        }
        let mut evaluator = Self {
            rules,
            planned,
            by_kind,
            stop_groups,
            ..Self::default()
        };
        let tenants: Vec<TenantId> = evaluator.rules.keys().copied().collect();
        for tenant in tenants {
            evaluator.schedule_shift_end(tenant, now);
        }
        evaluator
    }

    fn schedule_shift_end(&mut self, tenant: TenantId, after: i64) {
        if self.enabled(tenant, RuleKind::AvailabilityBelow).is_empty() {
            return;
        }
        if let Some(shift) = self
            .planned
            .get(&tenant)
            .and_then(|p| p.next_shift_end(after))
        {
            self.timers
                .insert((shift.end, Timer::ShiftEnd { tenant, shift }));
        }
    }

    /// Planned time of a tenant's machine in `[from, to)` (all of it without a calendar).
    pub fn planned_ms(&self, tenant: TenantId, asset: AssetId, from: i64, to: i64) -> i64 {
        self.planned
            .get(&tenant)
            .map_or((to - from).max(0), |p| p.planned_ms(asset, from, to))
    }

    /// Whether a rule has an alert open about a machine.
    pub fn is_open(&self, rule: i64, asset: AssetId) -> Option<i64> {
        self.open.get(&(rule, Subject::Asset(asset))).map(|o| o.id)
    }

    /// Forgets an open alert the caller cleared.
    pub fn closed(&mut self, rule: i64, asset: AssetId) {
        self.take_open(&(rule, Subject::Asset(asset)));
    }

    /// Looks again at a stopped machine's shift once it has stood `more_ms` more planned time
    /// (if it is still the same stop then).
    pub fn recheck_availability(&mut self, check: Recheck, now: i64, more_ms: i64) {
        let Recheck {
            tenant,
            rule,
            asset,
            since,
            shift,
        } = check;
        let at = self
            .planned
            .get(&tenant)
            .and_then(|p| p.crossing(asset, now, more_ms))
            .unwrap_or(now + more_ms);
        if at < shift.end {
            self.timers.insert((
                at,
                Timer::Availability {
                    rule,
                    asset,
                    since,
                    shift,
                },
            ));
        }
    }

    fn availability(
        &self,
        tenant: TenantId,
        rule: &Rule,
        asset: AssetId,
        shift: Span,
        stop_since: Option<i64>,
        ended: bool,
    ) -> Option<Action> {
        let watch = self.assets.get(&asset)?;
        Some(Action::Availability {
            tenant,
            rule: rule.clone(),
            asset: (asset, watch.name.clone()),
            logger_id: watch.logger_id.clone(),
            shift,
            stop_since,
            ended,
        })
    }

    pub fn watches_tenant(&self, tenant: TenantId) -> bool {
        self.rules
            .get(&tenant)
            .is_some_and(|r| r.iter().any(|r| r.enabled))
    }

    fn rule(&self, tenant: TenantId, id: i64) -> Option<&Rule> {
        self.rules
            .get(&tenant)?
            .iter()
            .find(|r| r.id == id && r.enabled)
            .map(|r| &**r)
    }

    fn enabled(&self, tenant: TenantId, kind: RuleKind) -> Vec<Arc<Rule>> {
        self.by_kind
            .get(&(tenant, kind))
            .cloned()
            .unwrap_or_default()
    }

    fn has_enabled(&self, tenant: TenantId, kind: RuleKind) -> bool {
        self.by_kind.contains_key(&(tenant, kind))
    }

    fn put_open(&mut self, key: Key, open: Open) {
        if let (true, Subject::Asset(asset)) = (open.stop, &key.1) {
            *self.open_stops.entry(*asset).or_default() += 1;
        }
        if let Some(old) = self.open.insert(key.clone(), open) {
            self.forget_counted(&key, &old);
        }
    }

    fn take_open(&mut self, key: &Key) -> Option<Open> {
        let open = self.open.remove(key)?;
        self.forget_counted(key, &open);
        Some(open)
    }

    fn forget_counted(&mut self, key: &Key, open: &Open) {
        if let (true, Subject::Asset(asset)) = (open.stop, &key.1)
            && let Some(n) = self.open_stops.get_mut(asset)
        {
            *n -= 1;
            if *n == 0 {
                self.open_stops.remove(asset);
            }
        }
    }

    /// An alert the database has open (at start, or found open by another evaluator).
    pub fn adopt(&mut self, alert: &Alert) {
        let subject = match (&alert.asset_id, &alert.logger_id) {
            (Some(a), _) if alert.kind != RuleKind::LoggerOffline.as_str() => Subject::Asset(*a),
            (_, Some(l)) => Subject::Logger(l.clone()),
            _ => return,
        };
        let key = (alert.rule_id, subject);
        let open = Open {
            id: alert.id,
            tenant: alert.tenant_id,
            stop: alert.kind == RuleKind::StopLongerThan.as_str(),
        };
        self.put_open(key.clone(), open);
        if alert.acknowledged_at.is_none()
            && alert.escalated_at.is_none()
            && let Some(after) = self
                .rule(alert.tenant_id, alert.rule_id)
                .and_then(|r| r.escalate_after_s)
        {
            self.timers.insert((
                alert.opened_at + after * 1000,
                Timer::Escalate {
                    key,
                    alert: alert.id,
                },
            ));
        }
    }

    /// Open alerts whose rule is gone or off: cleared, silently.
    pub fn orphans(&mut self, now: i64) -> Vec<Action> {
        let gone: Vec<Key> = self
            .open
            .iter()
            .filter(|((rule, _), open)| self.rule(open.tenant, *rule).is_none())
            .map(|(k, _)| k.clone())
            .collect();
        gone.into_iter()
            .filter_map(|k| self.take_open(&k))
            .map(|open| Action::Clear {
                tenant: open.tenant,
                alert: open.id,
                at: now,
                rule: None,
                lasted_ms: 0,
            })
            .collect()
    }

    /// A machine's state, learned at `now`.
    pub fn asset(&mut self, seen: Seen<'_>, now: i64) -> Vec<Action> {
        let Seen {
            tenant,
            asset,
            name,
            logger_id,
            running,
            ts,
        } = seen;
        let watch = self.assets.entry(asset).or_insert_with(|| Watch {
            tenant,
            name: name.to_owned(),
            logger_id: logger_id.to_owned(),
            stopped_since: None,
            learned_at: now,
        });
        watch.name = name.to_owned();
        let previous = watch.stopped_since;
        let learned_at = watch.learned_at;
        let mut actions = Vec::new();
        match running {
            Some(false) => {
                if previous.is_some() {
                    return actions;
                }
                watch.stopped_since = Some(ts);
                watch.learned_at = now;
                let shift = if self.has_enabled(tenant, RuleKind::AvailabilityBelow) {
                    self.planned.get(&tenant).and_then(|p| p.shift_at(now))
                } else {
                    None
                };
                for rule in shift.map_or(Vec::new(), |_| {
                    self.enabled(tenant, RuleKind::AvailabilityBelow)
                }) {
                    if let Some(shift) = shift
                        && rule.watches(asset)
                        && self.is_open(rule.id, asset).is_none()
                    {
                        actions.extend(self.availability(
                            tenant,
                            &rule,
                            asset,
                            shift,
                            Some(ts),
                            false,
                        ));
                    }
                }
                let next = self
                    .crossings(tenant, asset, ts)
                    .into_iter()
                    .filter_map(|(_, at)| at)
                    .min();
                if let Some(at) = next {
                    self.set_stop_timer(asset, ts, at.max(now));
                }
            }
            Some(true) => {
                watch.stopped_since = None;
                let Some(since) = previous else {
                    return actions;
                };
                self.clear_stop_timer(asset);
                let mut cleared = Vec::new();
                if self.open_stops.contains_key(&asset) {
                    for rule in self.enabled(tenant, RuleKind::StopLongerThan) {
                        if let Some(open) = self.take_open(&(rule.id, Subject::Asset(asset))) {
                            cleared.push(rule.id);
                            actions.push(Action::Clear {
                                tenant,
                                alert: open.id,
                                at: ts,
                                rule: Some((*rule).clone()),
                                lasted_ms: ts - since,
                            });
                        }
                    }
                }
                // Crossed before it ended, while known: the timer had not fired yet.
                for (n, crossed) in self.crossings(tenant, asset, since) {
                    let Some(_) = crossed.filter(|at| *at <= ts && learned_at <= at + GRACE_MS)
                    else {
                        continue;
                    };
                    for rule in self.group_rules(tenant, n, asset) {
                        if !cleared.contains(&rule.id)
                            && !self.open.contains_key(&(rule.id, Subject::Asset(asset)))
                        {
                            actions.push(self.open_stop(tenant, &rule, asset, since, Some(ts)));
                        }
                    }
                }
            }
            None => {}
        }
        // Stops that ended on their own count; a stop before any rule is in any case stale.
        actions
    }

    /// The stop rules that watch a machine, each with when a stop that began at `since`
    /// crosses its threshold; computed once per distinct threshold (many rules share one).
    /// The tenant's stop-rule groups that watch a machine (by index), each with when a stop
    /// that began at `since` crosses its threshold: one computation per threshold, however
    /// many rules share it.
    fn crossings(&self, tenant: TenantId, asset: AssetId, since: i64) -> Vec<(usize, Option<i64>)> {
        let Some(groups) = self.stop_groups.get(&tenant) else {
            return Vec::new();
        };
        groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.watches(asset))
            .map(|(n, g)| {
                let threshold = g.threshold_s.unwrap_or(0) * 1000;
                let at = match self.planned.get(&tenant) {
                    Some(planned) if g.planned_only => planned.crossing(asset, since, threshold),
                    _ => Some(since + threshold),
                };
                (n, at)
            })
            .collect()
    }

    /// The rules of a tenant's stop group `n` that watch a machine.
    fn group_rules(&self, tenant: TenantId, n: usize, asset: AssetId) -> Vec<Arc<Rule>> {
        self.stop_groups.get(&tenant).map_or(Vec::new(), |groups| {
            groups[n]
                .rules
                .iter()
                .filter(|r| r.watches(asset))
                .cloned()
                .collect()
        })
    }

    fn set_stop_timer(&mut self, asset: AssetId, since: i64, at: i64) {
        self.clear_stop_timer(asset);
        self.timers.insert((at, Timer::Stop { asset, since }));
        self.stop_due.insert(asset, at);
    }

    fn clear_stop_timer(&mut self, asset: AssetId) {
        let Some(at) = self.stop_due.remove(&asset) else {
            return;
        };
        // The machine has one stop timer: found by its time, whatever its stop.
        let first = (
            at,
            Timer::Stop {
                asset,
                since: i64::MIN,
            },
        );
        let last = (
            at,
            Timer::Stop {
                asset,
                since: i64::MAX,
            },
        );
        let stale: Vec<(i64, Timer)> = self.timers.range(first..=last).cloned().collect();
        for timer in stale {
            self.timers.remove(&timer);
        }
    }

    fn open_stop(
        &mut self,
        tenant: TenantId,
        rule: &Rule,
        asset: AssetId,
        since: i64,
        cleared_at: Option<i64>,
    ) -> Action {
        let watch = &self.assets[&asset];
        Action::Open {
            key: (rule.id, Subject::Asset(asset)),
            tenant,
            rule: rule.clone(),
            asset: Some((asset, watch.name.clone())),
            logger_id: watch.logger_id.clone(),
            since,
            cleared_at,
            threshold_ms: rule.threshold_s.unwrap_or(0) * 1000,
        }
    }

    /// A logger marked offline (with its last contact) or back online (at `at`).
    pub fn logger(
        &mut self,
        tenant: TenantId,
        logger: &str,
        online: bool,
        at: i64,
        now: i64,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let id = (tenant, logger.to_owned());
        let rules = self.enabled(tenant, RuleKind::LoggerOffline);
        if online {
            let Some(since) = self.offline.remove(&id) else {
                return actions;
            };
            for rule in rules {
                if let Some(open) = self.take_open(&(rule.id, Subject::Logger(logger.to_owned()))) {
                    actions.push(Action::Clear {
                        tenant,
                        alert: open.id,
                        at,
                        rule: Some((*rule).clone()),
                        lasted_ms: at - since,
                    });
                }
            }
            return actions;
        }
        if self.offline.contains_key(&id) {
            return actions;
        }
        self.offline.insert(id, at);
        for rule in rules {
            if !self.covers(&rule, tenant, logger) {
                continue;
            }
            let delay = rule.threshold_s.unwrap_or(0) * 1000;
            self.timers.insert((
                now + delay,
                Timer::Offline {
                    rule: rule.id,
                    tenant,
                    logger: logger.to_owned(),
                    since: at,
                },
            ));
        }
        actions
    }

    /// Whether a logger rule covers a logger: all of them, or one with a listed machine.
    fn covers(&self, rule: &Rule, tenant: TenantId, logger: &str) -> bool {
        rule.asset_ids.is_none()
            || self
                .assets
                .iter()
                .any(|(id, w)| w.tenant == tenant && w.logger_id == logger && rule.watches(*id))
    }

    /// When the next timer is due.
    pub fn next_due(&self) -> Option<i64> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The timers due at `now`, as actions.
    pub fn due(&mut self, now: i64) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Some((at, _)) = self.timers.first()
            && *at <= now
        {
            let (_, timer) = self.timers.pop_first().expect("a first timer");
            match timer {
                Timer::Stop { asset, since } => {
                    self.stop_due.remove(&asset);
                    let Some(watch) = self.assets.get(&asset) else {
                        continue;
                    };
                    let tenant = watch.tenant;
                    if watch.stopped_since != Some(since) {
                        continue;
                    }
                    let mut next = None::<i64>;
                    for (n, crossed) in self.crossings(tenant, asset, since) {
                        match crossed {
                            Some(at) if at <= now => {
                                for rule in self.group_rules(tenant, n, asset) {
                                    let key = (rule.id, Subject::Asset(asset));
                                    if !self.open.contains_key(&key) {
                                        actions.push(
                                            self.open_stop(tenant, &rule, asset, since, None),
                                        );
                                    }
                                }
                            }
                            Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
                            None => {}
                        }
                    }
                    if let Some(at) = next {
                        self.set_stop_timer(asset, since, at);
                    }
                }
                Timer::Offline {
                    rule,
                    tenant,
                    logger,
                    since,
                } => {
                    if self.offline.get(&(tenant, logger.clone())) != Some(&since)
                        || self
                            .open
                            .contains_key(&(rule, Subject::Logger(logger.clone())))
                    {
                        continue;
                    }
                    let Some(rule) = self.rule(tenant, rule).cloned() else {
                        continue;
                    };
                    actions.push(Action::Open {
                        key: (rule.id, Subject::Logger(logger.clone())),
                        tenant,
                        threshold_ms: rule.threshold_s.unwrap_or(0) * 1000,
                        rule,
                        asset: None,
                        logger_id: logger,
                        since,
                        cleared_at: None,
                    });
                }
                Timer::ShiftEnd { tenant, shift } => {
                    for rule in self.enabled(tenant, RuleKind::AvailabilityBelow) {
                        let assets: Vec<AssetId> = self
                            .assets
                            .iter()
                            .filter(|(id, w)| w.tenant == tenant && rule.watches(**id))
                            .map(|(id, _)| *id)
                            .collect();
                        for asset in assets {
                            actions
                                .extend(self.availability(tenant, &rule, asset, shift, None, true));
                        }
                    }
                    self.schedule_shift_end(tenant, shift.end);
                }
                Timer::Availability {
                    rule,
                    asset,
                    since,
                    shift,
                } => {
                    let Some(watch) = self.assets.get(&asset) else {
                        continue;
                    };
                    let tenant = watch.tenant;
                    if watch.stopped_since != Some(since) || self.is_open(rule, asset).is_some() {
                        continue;
                    }
                    let Some(rule) = self.rule(tenant, rule).cloned() else {
                        continue;
                    };
                    actions.extend(self.availability(
                        tenant,
                        &rule,
                        asset,
                        shift,
                        Some(since),
                        false,
                    ));
                }
                Timer::Escalate { key, alert } => {
                    let Some(open) = self.open.get(&key).filter(|o| o.id == alert) else {
                        continue;
                    };
                    let tenant = open.tenant;
                    let Some(rule) = self.rule(tenant, key.0).cloned() else {
                        continue;
                    };
                    actions.push(Action::Escalate {
                        tenant,
                        alert,
                        rule,
                    });
                }
            }
        }
        actions
    }

    /// An alert opened as an [`Action::Open`] asked (still open unless it opened cleared).
    pub fn opened(&mut self, key: Key, alert: &Alert) {
        if alert.cleared_at.is_none() {
            self.adopt(alert);
        } else {
            self.take_open(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TenantId = TenantId(1);
    const A: AssetId = AssetId(5);

    fn rule(id: i64, kind: RuleKind, threshold_s: i64) -> Rule {
        Rule {
            id,
            name: format!("rule {id}"),
            kind,
            asset_ids: None,
            threshold_s: Some(threshold_s),
            threshold_pct: None,
            only_in_planned_time: false,
            channel_ids: vec![1],
            escalate_after_s: None,
            escalate_channel_ids: vec![],
            notify_on_clear: true,
            enabled: true,
        }
    }

    fn seen(running: Option<bool>, ts: i64) -> Seen<'static> {
        Seen {
            tenant: T,
            asset: A,
            name: "Press",
            logger_id: "esp-1",
            running,
            ts,
        }
    }

    fn evaluator(rules: Vec<Rule>) -> Evaluator {
        Evaluator::new(HashMap::from([(T, rules)]), HashMap::new(), 0)
    }

    fn alert_of(action: &Action, id: i64, opened_at: i64) -> (Key, Alert) {
        let Action::Open {
            key,
            tenant,
            rule,
            asset,
            logger_id,
            since,
            cleared_at,
            ..
        } = action
        else {
            panic!("not an open: {action:?}");
        };
        (
            key.clone(),
            Alert {
                id,
                rule_id: rule.id,
                rule_name: rule.name.clone(),
                kind: rule.kind.as_str().into(),
                asset_id: asset.as_ref().map(|a| a.0),
                logger_id: Some(logger_id.clone()),
                since: *since,
                opened_at,
                acknowledged_at: None,
                acknowledged_by: None,
                ack_comment: None,
                cleared_at: *cleared_at,
                escalated_at: None,
                state: "active",
                detail: serde_json::Value::Null,
                tenant_id: *tenant,
            },
        )
    }

    #[test]
    fn a_stop_opens_once_at_its_threshold_and_clears_when_the_machine_runs() {
        let mut e = evaluator(vec![rule(1, RuleKind::StopLongerThan, 600)]);
        assert!(e.asset(seen(Some(false), 1_000), 1_000).is_empty());
        assert_eq!(e.next_due(), Some(601_000));
        assert!(e.due(600_999).is_empty());
        let opened = e.due(601_000);
        assert_eq!(opened.len(), 1);
        let (key, alert) = alert_of(&opened[0], 9, 601_000);
        e.opened(key, &alert);
        // A repeated STOPPED (a retransmit) changes nothing; RUNNING clears.
        assert!(e.asset(seen(Some(false), 2_000), 2_000).is_empty());
        let cleared = e.asset(seen(Some(true), 700_000), 700_000);
        assert!(
            matches!(
                cleared[..],
                [Action::Clear {
                    alert: 9,
                    at: 700_000,
                    lasted_ms: 699_000,
                    ..
                }]
            ),
            "{cleared:?}"
        );
        assert!(e.due(10_000_000).is_empty(), "nothing more");
    }

    #[test]
    fn a_stop_that_crossed_and_ended_before_its_timer_fired_is_alerted_opened_and_cleared() {
        let mut e = evaluator(vec![rule(1, RuleKind::StopLongerThan, 60)]);
        e.asset(seen(Some(false), 0), 0);
        // The RUNNING arrives before the evaluator looked at its timers.
        let got = e.asset(seen(Some(true), 61_000), 61_500);
        assert!(
            matches!(
                &got[..],
                [Action::Open {
                    since: 0,
                    cleared_at: Some(61_000),
                    ..
                }]
            ),
            "{got:?}"
        );
        assert!(
            e.due(100_000).is_empty(),
            "the timer of the ended stop is stale"
        );
    }

    #[test]
    fn a_backfilled_stop_that_is_over_fires_nothing_but_an_ongoing_one_does() {
        let mut e = evaluator(vec![rule(1, RuleKind::StopLongerThan, 60)]);
        let now = 10_000_000;
        // Both ends of an old stop in one catching-up report.
        e.asset(seen(Some(false), 1_000), now);
        assert!(e.asset(seen(Some(true), 500_000), now).is_empty());
        assert!(e.due(now).is_empty());
        // An old stop that still lasts.
        e.asset(seen(Some(false), 600_000), now);
        assert_eq!(e.due(now).len(), 1);
    }

    #[test]
    fn planned_time_only_counts_inside_the_calendar() {
        let mut rule = rule(1, RuleKind::StopLongerThan, 600);
        rule.only_in_planned_time = true;
        let planned = PlannedTime {
            tz: chrono_tz::UTC,
            calendar: Calendars::default(),
            // Planned downtime for the first hour: the stop's first hour does not count.
            downtime: vec![(None, Span::new(0, 3_600_000))],
        };
        let mut e = Evaluator::new(
            HashMap::from([(T, vec![rule])]),
            HashMap::from([(T, planned)]),
            0,
        );
        e.asset(seen(Some(false), 0), 0);
        assert_eq!(e.next_due(), Some(3_600_000 + 600_000));
    }

    #[test]
    fn an_offline_logger_opens_after_its_delay_and_clears_when_it_reports() {
        let mut e = evaluator(vec![rule(2, RuleKind::LoggerOffline, 30)]);
        assert!(e.logger(T, "esp-1", false, 1_000, 5_000).is_empty());
        assert!(
            e.logger(T, "esp-1", false, 1_000, 6_000).is_empty(),
            "told twice"
        );
        assert!(e.due(34_999).is_empty());
        let opened = e.due(35_000);
        assert_eq!(opened.len(), 1, "{opened:?}");
        let (key, alert) = alert_of(&opened[0], 3, 35_000);
        e.opened(key, &alert);
        let back = e.logger(T, "esp-1", true, 40_000, 40_000);
        assert!(
            matches!(
                back[..],
                [Action::Clear {
                    alert: 3,
                    lasted_ms: 39_000,
                    ..
                }]
            ),
            "{back:?}"
        );
        // Back before the delay: nothing.
        e.logger(T, "esp-1", false, 50_000, 50_000);
        e.logger(T, "esp-1", true, 60_000, 60_000);
        assert!(e.due(1_000_000).is_empty());
    }

    #[test]
    fn an_unacknowledged_alert_escalates_once_and_a_removed_rule_clears_its_alerts() {
        let mut r = rule(1, RuleKind::StopLongerThan, 10);
        r.escalate_after_s = Some(60);
        r.escalate_channel_ids = vec![2];
        let mut e = evaluator(vec![r]);
        e.asset(seen(Some(false), 0), 0);
        let opened = e.due(10_000);
        let (key, alert) = alert_of(&opened[0], 4, 10_000);
        e.opened(key, &alert);
        assert!(e.due(69_999).is_empty());
        assert!(matches!(
            e.due(70_000)[..],
            [Action::Escalate { alert: 4, .. }]
        ));
        assert!(e.due(1_000_000).is_empty());
        e.rules.clear();
        assert!(matches!(
            e.orphans(5)[..],
            [Action::Clear {
                alert: 4,
                rule: None,
                ..
            }]
        ));
    }

    #[test]
    fn an_availability_rule_looks_when_a_machine_stops_and_at_every_shift_end() {
        let mut rule = rule(3, RuleKind::AvailabilityBelow, 0);
        rule.threshold_s = None;
        rule.threshold_pct = Some(75.0);
        let planned = PlannedTime {
            tz: chrono_tz::UTC,
            calendar: Calendars::default(),
            downtime: vec![],
        };
        let day = 86_400_000;
        let mut e = Evaluator::new(
            HashMap::from([(T, vec![rule])]),
            HashMap::from([(T, planned)]),
            1_000,
        );
        // Without a calendar the shift is the day; its end is the first timer.
        assert_eq!(e.next_due(), Some(day));
        let stopped = e.asset(seen(Some(false), 5_000), 5_000);
        assert!(
            matches!(&stopped[..], [Action::Availability { ended: false, stop_since: Some(5_000), shift, .. }]
                if *shift == Span::new(0, day)),
            "{stopped:?}"
        );
        // The runner found it still reachable: it asks to look again later, for that stop only.
        let check = Recheck {
            tenant: T,
            rule: 3,
            asset: A,
            since: 5_000,
            shift: Span::new(0, day),
        };
        e.recheck_availability(check, 6_000, 60_000);
        assert!(matches!(
            e.due(66_000)[..],
            [Action::Availability { ended: false, .. }]
        ));
        e.recheck_availability(check, 70_000, 60_000);
        e.asset(seen(Some(true), 80_000), 80_000);
        assert!(
            e.due(130_000).is_empty(),
            "it runs again: that stop is not looked at"
        );
        let ended = e.due(day);
        assert!(
            matches!(
                &ended[..],
                [Action::Availability {
                    ended: true,
                    stop_since: None,
                    ..
                }]
            ),
            "{ended:?}"
        );
        assert_eq!(e.next_due(), Some(2 * day), "the next shift's end");
    }

    #[tokio::test]
    async fn a_lead_that_cannot_change_is_never_reported_as_changed() {
        // A SQLite server's lead: its sender is gone at once. Waiting on it must not spin.
        let mut leads = tokio::sync::watch::channel(true).1;
        let waited = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            super::super::lead_changed(&mut leads),
        )
        .await;
        assert!(waited.is_err(), "resolved although nothing can change");
    }

    #[test]
    fn timers_stay_as_many_as_the_stopped_machines_whatever_the_rules_and_stops() {
        let rules = (1..=500)
            .map(|id| rule(id, RuleKind::StopLongerThan, 604_800))
            .collect();
        let mut e = evaluator(rules);
        for n in 0..1000 {
            e.asset(seen(Some(false), n * 10), n * 10);
            assert_eq!(e.timers.len(), 1, "one timer for the stopped machine");
            e.asset(seen(Some(true), n * 10 + 5), n * 10 + 5);
            assert!(e.timers.is_empty(), "none once it runs");
        }
        // Two thresholds: the earlier fires (for its rules only), then the later is due.
        let mut e = evaluator(vec![
            rule(1, RuleKind::StopLongerThan, 10),
            rule(2, RuleKind::StopLongerThan, 10),
            rule(3, RuleKind::StopLongerThan, 20),
        ]);
        e.asset(seen(Some(false), 0), 0);
        let first = e.due(10_000);
        assert_eq!(first.len(), 2);
        for (n, action) in first.iter().enumerate() {
            let (key, alert) = alert_of(action, n as i64 + 1, 10_000);
            e.opened(key, &alert);
        }
        assert_eq!(e.next_due(), Some(20_000));
        assert!(matches!(&e.due(20_000)[..], [Action::Open { rule, .. }] if rule.id == 3));
    }
}
