//! Analytics and stops: the stored history turned into availability, MTBF, MTTR and stops, per
//! asset and bucket, with downtime by reason; and the stops themselves, which operators annotate.
//!
//! The arithmetic is `assetlog_core::kpi`; the wall-clock rules (shifts, time zone buckets) are
//! `crate::calendar`; this module gathers the inputs, calls them, and shapes the answers (JSON,
//! or CSV with `Accept: text/csv` or `format=csv`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use assetlog_core::kpi::{self, Event, Figures, Interval, Span, Stop};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiJson, ApiPath, CurrentUser, Operator, WriteJson, csv_response, parse_time_param};
use crate::AppState;
use crate::calendar::{self, Bucket, ParsedShift, Shift};
use crate::error::{ApiError, Result, not_found_as};
use crate::live::rfc3339;
use crate::store::{
    Asset, DayRollup, HistoryAsk, HistoryRows, NewDays, Reason, StopPart, StoredDays, now_ms,
};

/// Longest window one request may ask for.
pub const MAX_WINDOW_MS: i64 = 400 * 24 * 3_600_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/analytics", get(analytics))
        .route("/api/analytics", get(analytics))
        .route("/api/v1/stops", get(list_stops))
        .route("/api/v1/stops/{id}", put(annotate))
        .route("/api/v1/stops/{id}/split", post(split))
}

/// Query pairs, keeping repeats (`asset_id=1&asset_id=2`).
fn query_pairs(headers_uri_query: Option<&str>) -> Result<Vec<(String, String)>> {
    serde_urlencoded::from_str(headers_uri_query.unwrap_or_default())
        .map_err(|_| ApiError::bad_request("invalid_query", "the query string does not parse"))
}

/// The parameters analytics and stops share.
struct Params {
    from: Option<i64>,
    to: Option<i64>,
    asset_ids: Vec<i64>,
    bucket: Option<Bucket>,
    csv: bool,
    min_duration_ms: Option<i64>,
    unassigned: bool,
}

fn parse_params(pairs: &[(String, String)], headers: &HeaderMap) -> Result<Params> {
    let bad = |m: String| ApiError::bad_request("invalid_query", m);
    let mut p = Params {
        from: None,
        to: None,
        asset_ids: Vec::new(),
        bucket: None,
        csv: false,
        min_duration_ms: None,
        unassigned: false,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "from" => p.from = Some(parse_time_param(value, "from")?),
            "to" => p.to = Some(parse_time_param(value, "to")?),
            "asset_id" => p.asset_ids.push(
                value
                    .parse()
                    .map_err(|_| bad(format!("asset_id {value:?} is not an id")))?,
            ),
            "bucket" => {
                p.bucket = Some(match value.as_str() {
                    "hour" => Bucket::Hour,
                    "day" => Bucket::Day,
                    "week" => Bucket::Week,
                    "month" => Bucket::Month,
                    "shift" => Bucket::Shift,
                    other => {
                        return Err(bad(format!(
                            "unknown bucket {other:?}: use hour, day, week, month or shift"
                        )));
                    }
                })
            }
            "format" => match value.as_str() {
                "csv" => p.csv = true,
                "json" => {}
                other => return Err(bad(format!("unknown format {other:?}: use json or csv"))),
            },
            "min_duration_ms" => {
                p.min_duration_ms = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|v: &i64| *v >= 0)
                        .ok_or_else(|| bad("min_duration_ms must be a number ≥ 0".into()))?,
                )
            }
            "unassigned" => {
                p.unassigned = value
                    .parse()
                    .map_err(|_| bad("unassigned must be true or false".into()))?
            }
            other => return Err(bad(format!("unknown parameter {other:?}"))),
        }
    }
    p.csv |= super::wants_csv(headers);
    Ok(p)
}

/// What every figure of a tenant depends on.
struct TenantRules {
    tz: Tz,
    threshold_ms: i64,
    calendar: Vec<ParsedShift>,
}

async fn tenant_rules(state: &AppState, tenant_id: i64) -> Result<TenantRules> {
    let settings = state.store.settings(tenant_id).await?;
    let tz: Tz = settings.timezone.parse().map_err(|_| {
        ApiError::Internal(anyhow::anyhow!(
            "stored time zone {} is invalid",
            settings.timezone
        ))
    })?;
    let shifts: Vec<Shift> = serde_json::from_str(&state.store.shifts(tenant_id).await?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let calendar = calendar::parse_calendar(&shifts)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored calendar is invalid: {e}")))?;
    Ok(TenantRules {
        tz,
        threshold_ms: settings.short_stop_threshold_s * 1000,
        calendar,
    })
}

/// The window of a request: given, or today in the tenant's zone. Checked.
fn window(p: &Params, rules: &TenantRules, now: i64) -> Result<(i64, i64)> {
    let (today_from, today_to) = calendar::today(rules.tz, now);
    let (from, to) = match (p.from, p.to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, now.max(f + 1)),
        (None, Some(t)) => (t - (today_to - today_from), t),
        (None, None) => (today_from, today_to),
    };
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from must be before to",
        ));
    }
    if to - from > MAX_WINDOW_MS {
        return Err(ApiError::bad_request(
            "invalid_query",
            "windows are limited to 400 days",
        ));
    }
    Ok((from, to))
}

/// What an analytics or stops request asks about, checked, with what the answer depends on.
struct Asked {
    params: Params,
    tenant_id: i64,
    rules: TenantRules,
    now: i64,
    from: i64,
    to: i64,
    assets: Vec<Asset>,
    /// Planned downtime in the window: (asset, or all), start, end.
    downtime: Vec<(Option<i64>, i64, i64)>,
}

async fn asked(
    state: &AppState,
    user: &CurrentUser,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<Asked> {
    let params = parse_params(&query_pairs(uri.query())?, headers)?;
    let tenant_id = user.tenant_id();
    let rules = tenant_rules(state, tenant_id).await?;
    let now = now_ms();
    let (from, to) = window(&params, &rules, now)?;
    let assets = chosen_assets(state, tenant_id, &params.asset_ids).await?;
    let downtime = state
        .store
        .planned_downtime(tenant_id, Some(from), Some(to))
        .await?
        .into_iter()
        .map(|d| (d.asset_id, d.from, d.to))
        .collect();
    Ok(Asked {
        params,
        tenant_id,
        rules,
        now,
        from,
        to,
        assets,
        downtime,
    })
}

/// The assets asked for (each must be the tenant's: another tenant's id is a 404), or all.
async fn chosen_assets(state: &AppState, tenant_id: i64, ids: &[i64]) -> Result<Vec<Asset>> {
    if ids.is_empty() {
        return Ok(state.store.assets(tenant_id).await?);
    }
    let mut assets = Vec::with_capacity(ids.len());
    for id in ids {
        if !assets.iter().any(|a: &Asset| a.id == *id) {
            assets.push(
                state
                    .store
                    .asset(tenant_id, *id)
                    .await
                    .map_err(not_found_as("asset"))?,
            );
        }
    }
    Ok(assets)
}

/// One asset's history around a window, digested.
struct History {
    timeline: Vec<Interval>,
    stops: Vec<Stop>,
    planned: Option<Vec<Span>>,
    threshold_ms: i64,
    /// Notes on the stops that overlap the window (and maybe on a few that do not).
    parts: Vec<StopPart>,
}

impl History {
    fn new(
        rules: &TenantRules,
        asset: &Asset,
        downtime: &[(Option<i64>, i64, i64)],
        (from, to): (i64, i64),
        now: i64,
        rows: HistoryRows,
    ) -> Self {
        let events: Vec<Event> = rows
            .events
            .iter()
            .map(|&(ts, seq, running)| Event { ts, seq, running })
            .collect();
        let offline: Vec<Span> = rows.offline.iter().map(|&(s, e)| Span::new(s, e)).collect();
        let timeline = kpi::timeline(&events, &offline, now);
        let stops = kpi::stops(&timeline, now);
        let own_downtime: Vec<(i64, i64)> = downtime
            .iter()
            .filter(|(a, _, _)| a.is_none_or(|a| a == asset.id))
            .map(|&(_, s, e)| (s, e))
            .collect();
        let planned = (!rules.calendar.is_empty() || !own_downtime.is_empty()).then(|| {
            calendar::planned_spans(&rules.calendar, rules.tz, from, to, &own_downtime)
                .into_iter()
                .map(|(s, e)| Span::new(s, e))
                .collect()
        });
        let threshold_ms = asset
            .short_stop_threshold_s
            .map_or(rules.threshold_ms, |s| s * 1000);
        Self {
            timeline,
            stops,
            planned,
            threshold_ms,
            parts: rows.parts,
        }
    }

    fn planned(&self) -> Option<&[Span]> {
        self.planned.as_deref()
    }

    /// Whether `t` is planned time (as analytics counts a stop that begins at `t`).
    fn is_planned(&self, t: i64) -> bool {
        self.planned().is_none_or(|spans| {
            let i = spans.partition_point(|s| s.end <= t);
            spans.get(i).is_some_and(|s| s.contains(t))
        })
    }

    fn figures(&self, from: i64, to: i64, now: i64) -> Figures {
        kpi::figures(
            &self.timeline,
            &self.stops,
            Span::new(from, to),
            self.planned(),
            now,
            self.threshold_ms,
        )
    }

    /// The stops that overlap `[from, to)`, cut into their annotated parts.
    fn annotated_stops(&self, asset_id: i64, (from, to): (i64, i64)) -> Vec<StopView> {
        let overlapping: Vec<Stop> = self
            .stops
            .iter()
            .copied()
            .filter(|s| s.start < to && s.end > from)
            .collect();
        stop_views(asset_id, self, &self.parts, &overlapping)
    }
}

/// The histories of several assets' windows, read in one trip to the database.
async fn histories(
    state: &AppState,
    tenant_id: i64,
    rules: &TenantRules,
    downtime: &[(Option<i64>, i64, i64)],
    now: i64,
    windows: &[(&Asset, (i64, i64))],
) -> Result<Vec<History>> {
    let asks = windows
        .iter()
        .map(|(asset, (from, to))| HistoryAsk {
            asset_id: asset.id,
            logger_row: asset.logger_row,
            from: *from,
            to: *to,
        })
        .collect();
    let rows = state.store.histories(tenant_id, asks, now).await?;
    Ok(windows
        .iter()
        .zip(rows)
        .map(|((asset, range), rows)| History::new(rules, asset, downtime, *range, now, rows))
        .collect())
}

/// One part of a stop as operators see it: the part's own span, reason and comment.
#[derive(Debug, Clone, Serialize)]
struct StopView {
    id: String,
    asset_id: i64,
    stop_start: i64,
    start: i64,
    end: i64,
    duration_ms: i64,
    stop_duration_ms: i64,
    ongoing: bool,
    short: bool,
    reason_id: Option<i64>,
    comment: String,
}

/// Cuts each stop into its annotated parts (a stop never split is one part).
fn stop_views(
    asset_id: i64,
    history: &History,
    parts: &[StopPart],
    stops: &[Stop],
) -> Vec<StopView> {
    let mut by_stop: HashMap<i64, Vec<&StopPart>> = HashMap::new();
    for part in parts.iter().filter(|p| p.asset_id == asset_id) {
        by_stop.entry(part.stop_start).or_default().push(part);
    }
    let mut out = Vec::new();
    for stop in stops {
        let mut notes: Vec<&StopPart> = by_stop.remove(&stop.start).unwrap_or_default();
        notes.retain(|p| p.part_start >= stop.start && p.part_start < stop.end.max(stop.start + 1));
        notes.sort_by_key(|p| p.part_start);
        let mut starts: Vec<i64> = notes.iter().map(|p| p.part_start).collect();
        if starts.first() != Some(&stop.start) {
            starts.insert(0, stop.start);
        }
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(stop.end);
            let note = notes.iter().find(|p| p.part_start == start);
            out.push(StopView {
                id: format!("{asset_id}-{}-{start}", stop.start),
                asset_id,
                stop_start: stop.start,
                start,
                end,
                duration_ms: end - start,
                stop_duration_ms: stop.duration_ms,
                ongoing: stop.ongoing && i + 1 == starts.len(),
                short: stop.is_short(history.threshold_ms),
                reason_id: note.and_then(|p| p.reason_id),
                comment: note.map(|p| p.comment.clone()).unwrap_or_default(),
            });
        }
    }
    out
}

#[derive(Debug, Clone, Serialize)]
struct ReasonShare {
    reason_id: Option<i64>,
    name: String,
    category: Option<String>,
    stops: u64,
    down_ms: i64,
}

/// Down time and stops of one reason: `(reason_id, or None for unassigned, stops, down_ms)`.
type Tally = (Option<i64>, u64, i64);

/// Down time of the window by reason; what no reason covers (unannotated stops, and down time
/// after an unknown state, which is no stop) is "unassigned". In reason id order; see [`named`].
fn downtime_by_reason(
    views: &[StopView],
    history: &History,
    figures: &Figures,
    (from, to): (i64, i64),
    now: i64,
    reasons: &HashMap<i64, &Reason>,
) -> Vec<Tally> {
    let mut shares: BTreeMap<Option<i64>, (u64, i64)> = BTreeMap::new();
    let window = Span::new(from, to);
    let mut assigned_ms = 0;
    for v in views {
        let down = kpi::down_ms_in(Span::new(v.start, v.end), window, history.planned(), now);
        let counted = (from..to).contains(&v.stop_start) && v.start == v.stop_start;
        if down == 0 && !counted {
            continue;
        }
        let reason = v.reason_id.filter(|r| reasons.contains_key(r));
        let entry = shares.entry(reason).or_default();
        entry.0 += u64::from(counted || (from..to).contains(&v.start));
        entry.1 += down;
        if reason.is_some() {
            assigned_ms += down;
        }
    }
    let unassigned = shares.entry(None).or_default();
    unassigned.1 = figures.down_ms - assigned_ms;
    shares
        .into_iter()
        .filter(|(id, (stops, down))| id.is_some() || *stops > 0 || *down > 0)
        .map(|(id, (stops, down_ms))| (id, stops, down_ms))
        .collect()
}

/// Adds tallies of several windows or assets, reason by reason (in reason id order).
fn merge_tallies(all: impl IntoIterator<Item = Tally>) -> Vec<Tally> {
    let mut merged: BTreeMap<Option<i64>, (u64, i64)> = BTreeMap::new();
    for (id, stops, down_ms) in all {
        let entry = merged.entry(id).or_default();
        entry.0 += stops;
        entry.1 += down_ms;
    }
    merged
        .into_iter()
        .map(|(id, (stops, down_ms))| (id, stops, down_ms))
        .collect()
}

/// The tallies as the API shows them: named, a reason deleted since counted as unassigned (its
/// deletion also forgets the rollups that named it), largest first (a Pareto).
fn named(tallies: &[Tally], reasons: &HashMap<i64, &Reason>) -> Vec<ReasonShare> {
    let known = merge_tallies(
        tallies
            .iter()
            .map(|&(id, stops, down)| (id.filter(|r| reasons.contains_key(r)), stops, down)),
    );
    let mut out: Vec<ReasonShare> = known
        .into_iter()
        .filter(|(id, stops, down)| id.is_some() || *stops > 0 || *down > 0)
        .map(|(id, stops, down_ms)| {
            let reason = id.and_then(|r| reasons.get(&r));
            ReasonShare {
                reason_id: id,
                name: reason.map_or_else(|| "Unassigned".to_owned(), |r| r.name.clone()),
                category: reason.map(|r| r.category.clone()),
                stops,
                down_ms,
            }
        })
        .collect();
    out.sort_by(|a, b| b.down_ms.cmp(&a.down_ms).then(b.stops.cmp(&a.stops)));
    out
}

/// Bucket spans of the window (with a name for shift buckets).
fn bucket_spans(
    kind: Bucket,
    rules: &TenantRules,
    (from, to): (i64, i64),
) -> Vec<(i64, i64, Option<String>)> {
    match kind {
        Bucket::Shift => calendar::occurrences(&rules.calendar, rules.tz, from, to)
            .into_iter()
            .map(|o| (o.span.0.max(from), o.span.1.min(to), Some(o.name)))
            .filter(|(s, e, _)| s < e)
            .collect(),
        other => calendar::buckets(other, rules.tz, from, to)
            .into_iter()
            .map(|(s, e)| (s, e, None))
            .collect(),
    }
}

/// One asset's figures and down time by reason over one span.
type SpanFigures = (Figures, Vec<Tally>);

/// One asset's figures over each local day of the window (the first and last clipped to it),
/// in two steps: [`DayPlan::new`] takes the whole settled days from the day rollups and finds
/// the runs of days left to compute; [`DayPlan::finish`] computes them from the events (one
/// history per run, all assets' read together) and keeps those that are whole and settled, to
/// store as rollups (see `store::rollups` for why that is safe).
struct DayPlan<'a> {
    asset: &'a Asset,
    generation: i64,
    settled_until: Option<i64>,
    /// Each day's figures: known from a rollup, or `None` until computed.
    per_day: Vec<Option<SpanFigures>>,
    /// Runs of consecutive days to compute, as day index ranges.
    runs: Vec<std::ops::Range<usize>>,
}

impl<'a> DayPlan<'a> {
    fn new(asset: &'a Asset, days: &[(i64, i64, bool)], stored: StoredDays, now: i64) -> Self {
        // Both in day order: walk them together.
        let mut stored_days = stored.days.into_iter().peekable();
        let per_day: Vec<Option<SpanFigures>> = days
            .iter()
            .map(|&(start, end, whole)| {
                while stored_days.next_if(|d| d.day_start < start).is_some() {}
                stored_days
                    .next_if(|d| d.day_start == start)
                    .filter(|d| whole && d.day_end == end)
                    .map(|d| (d.figures, d.reasons))
            })
            .collect();
        let mut runs = Vec::new();
        let mut i = 0;
        while i < days.len() {
            if per_day[i].is_some() {
                i += 1;
                continue;
            }
            let j = (i..days.len())
                .find(|&k| per_day[k].is_some())
                .unwrap_or(days.len());
            runs.push(i..j);
            i = j;
        }
        Self {
            asset,
            generation: stored.generation,
            settled_until: stored.settled_until.map(|t| t.min(now)),
            per_day,
            runs,
        }
    }

    /// The windows whose events the missing days need, one per run.
    fn windows<'d>(
        &'d self,
        days: &'d [(i64, i64, bool)],
    ) -> impl Iterator<Item = (&'a Asset, (i64, i64))> + 'd {
        self.runs
            .iter()
            .map(|run| (self.asset, (days[run.start].0, days[run.end - 1].1)))
    }

    /// Computes the missing days from `histories` (one per run, in order): the figures of every
    /// day, and the whole, settled days computed, worth storing.
    fn finish(
        mut self,
        days: &[(i64, i64, bool)],
        histories: &mut impl Iterator<Item = History>,
        now: i64,
        reasons: &HashMap<i64, &Reason>,
    ) -> (Vec<SpanFigures>, Option<NewDays>) {
        let mut computed = Vec::new();
        for run in std::mem::take(&mut self.runs) {
            let Some(history) = histories.next() else {
                break;
            };
            let range = (days[run.start].0, days[run.end - 1].1);
            let views = history.annotated_stops(self.asset.id, range);
            for k in run {
                let (start, end, whole) = days[k];
                let figures = history.figures(start, end, now);
                let shares =
                    downtime_by_reason(&views, &history, &figures, (start, end), now, reasons);
                if whole && self.settled_until.is_some_and(|t| end <= t) {
                    computed.push(DayRollup {
                        day_start: start,
                        day_end: end,
                        figures,
                        reasons: shares.clone(),
                    });
                }
                self.per_day[k] = Some((figures, shares));
            }
        }
        let settle = (!computed.is_empty()).then_some(NewDays {
            asset_id: self.asset.id,
            generation: self.generation,
            days: computed,
        });
        (self.per_day.into_iter().flatten().collect(), settle)
    }
}

/// Adds the day figures that lie inside each bucket (every day, week and month edge is a local
/// midnight, so each day falls into exactly one bucket; both lists are in time order).
fn sum_days(
    days: &[(i64, i64, bool)],
    per_day: &[SpanFigures],
    buckets: &[(i64, i64, Option<String>)],
) -> Vec<Figures> {
    let mut day = days.iter().zip(per_day).peekable();
    buckets
        .iter()
        .map(|(_, end, _)| {
            std::iter::from_fn(|| day.next_if(|((_, e, _), _)| e <= end))
                .map(|(_, (figures, _))| *figures)
                .sum()
        })
        .collect()
}

async fn analytics(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response> {
    let asked = asked(&state, &user, &headers, &uri).await?;
    let Asked {
        params,
        tenant_id,
        rules,
        now,
        from,
        to,
        ..
    } = &asked;
    let (tenant_id, now, from, to) = (*tenant_id, *now, *from, *to);
    let reasons = state.store.reasons(tenant_id).await?;
    let reasons: HashMap<i64, &Reason> = reasons.iter().map(|r| (r.id, r)).collect();
    let spans = params
        .bucket
        .map(|b| bucket_spans(b, rules, (from, to)))
        .unwrap_or_default();

    let mut rows: Vec<AssetFigures> = Vec::with_capacity(asked.assets.len());
    let by_day = matches!(
        params.bucket,
        None | Some(Bucket::Day | Bucket::Week | Bucket::Month)
    );
    if by_day {
        let days = calendar::days(rules.tz, from, to);
        let stored = state
            .store
            .day_rollups(asked.assets.iter().map(|a| a.id).collect(), from, to)
            .await?;
        let plans: Vec<DayPlan> = asked
            .assets
            .iter()
            .zip(stored)
            .map(|(asset, stored)| DayPlan::new(asset, &days, stored, now))
            .collect();
        let windows: Vec<_> = plans.iter().flat_map(|p| p.windows(&days)).collect();
        let computed_days: usize = plans
            .iter()
            .flat_map(|p| &p.runs)
            .map(|run| run.len())
            .sum();
        state
            .metrics
            .rollup_days_computed
            .inc_by(computed_days as u64);
        state
            .metrics
            .rollup_days_read
            .inc_by((days.len() * plans.len() - computed_days) as u64);
        let mut histories = histories(&state, tenant_id, rules, &asked.downtime, now, &windows)
            .await?
            .into_iter();
        let mut settled = Vec::new();
        for plan in plans {
            let asset = plan.asset;
            let (per_day, new) = plan.finish(&days, &mut histories, now, &reasons);
            settled.extend(new);
            let figures = per_day.iter().map(|(f, _)| *f).sum();
            let buckets = sum_days(&days, &per_day, &spans);
            let tallies = merge_tallies(per_day.into_iter().flat_map(|(_, t)| t));
            rows.push(AssetFigures {
                asset,
                figures,
                buckets,
                tallies,
            });
        }
        // One write for all of them; a failure only means computing them again next time.
        if !settled.is_empty()
            && let Err(e) = state.store.save_day_rollups(tenant_id, settled).await
        {
            tracing::warn!("cannot store day rollups: {e}");
        }
    } else {
        let windows: Vec<_> = asked.assets.iter().map(|a| (a, (from, to))).collect();
        let all = histories(&state, tenant_id, rules, &asked.downtime, now, &windows).await?;
        for (asset, history) in asked.assets.iter().zip(all) {
            let figures = history.figures(from, to, now);
            let views = history.annotated_stops(asset.id, (from, to));
            let tallies = downtime_by_reason(&views, &history, &figures, (from, to), now, &reasons);
            let buckets = spans
                .iter()
                .map(|(s, e, _)| history.figures(*s, *e, now))
                .collect();
            rows.push(AssetFigures {
                asset,
                figures,
                buckets,
                tallies,
            });
        }
    }
    if params.csv {
        return Ok(analytics_csv(&rows, &spans, from, to));
    }
    // Typed answer structs are written straight into the body: a year of 500 assets by day is
    // 180,000 buckets (46 MB), and building a `serde_json::Value` tree of them first cost most
    // of the time. The answer owns its parts, so it is written out while it is being sent.
    let labels: Arc<[BucketLabel]> = spans
        .iter()
        .map(|(s, e, shift)| BucketLabel::new(&rfc3339(*s), &rfc3339(*e), shift.as_deref()))
        .collect::<serde_json::Result<_>>()
        .map_err(|e| ApiError::Internal(e.into()))?;
    let total: Figures = rows.iter().map(|r| r.figures).sum();
    let total_buckets: Vec<Figures> = (0..spans.len())
        .map(|i| rows.iter().map(|r| r.buckets[i]).sum())
        .collect();
    let total = TotalOut {
        figures: total,
        downtime_by_reason: named(
            &merge_tallies(rows.iter().flat_map(|r| r.tallies.iter().copied())),
            &reasons,
        ),
        buckets: BucketsOut {
            labels: labels.clone(),
            figures: total_buckets,
        },
    };
    let assets: Vec<AssetOut> = rows
        .into_iter()
        .map(|r| AssetOut {
            asset_id: r.asset.id,
            asset_name: r.asset.name.clone(),
            figures: r.figures,
            downtime_by_reason: named(&r.tallies, &reasons),
            buckets: BucketsOut {
                labels: labels.clone(),
                figures: r.buckets,
            },
        })
        .collect();
    // `{"from", "to", "timezone", "assets": [...], "total"}`, with the assets written in
    // parallel between the two ends.
    let internal = |e: std::io::Error| ApiError::Internal(e.into());
    let mut head = open_object(&AnswerHead {
        from: rfc3339(from),
        to: rfc3339(to),
        timezone: rules.tz.name(),
    })
    .map_err(internal)?;
    head.extend_from_slice(b",\"assets\":");
    let mut tail = b",\"total\":".to_vec();
    total.write_json(&mut tail).map_err(internal)?;
    tail.push(b'}');
    Ok(super::streamed_json_array(head, assets, tail))
}

/// The answer's first fields; `assets` and `total` follow (see `analytics`).
#[derive(Serialize)]
struct AnswerHead {
    from: String,
    to: String,
    timezone: &'static str,
}

struct AssetOut {
    asset_id: i64,
    asset_name: String,
    figures: Figures,
    downtime_by_reason: Vec<ReasonShare>,
    buckets: BucketsOut,
}

/// An asset's or the total's fields before its buckets.
#[derive(Serialize)]
struct RowHead<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    asset_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    asset_name: Option<&'a str>,
    #[serde(flatten)]
    figures: Figures,
    downtime_by_reason: &'a [ReasonShare],
}

/// `value`'s JSON object without its closing brace, so that more fields can follow.
fn open_object<T: Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    let mut text = serde_json::to_vec(value)?;
    debug_assert_eq!(text.last(), Some(&b'}'));
    text.pop();
    Ok(text)
}

/// Writes `head` (a JSON object) with `"buckets"` added as its last field.
fn write_row<W: std::io::Write>(
    out: &mut W,
    head: &RowHead<'_>,
    buckets: &BucketsOut,
) -> std::io::Result<()> {
    out.write_all(&open_object(head)?)?;
    out.write_all(b",\"buckets\":")?;
    buckets.write_json(out)?;
    out.write_all(b"}")
}

impl WriteJson for AssetOut {
    fn write_json<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()> {
        let head = RowHead {
            asset_id: Some(self.asset_id),
            asset_name: Some(&self.asset_name),
            figures: self.figures,
            downtime_by_reason: &self.downtime_by_reason,
        };
        write_row(out, &head, &self.buckets)
    }
}

struct TotalOut {
    figures: Figures,
    downtime_by_reason: Vec<ReasonShare>,
    buckets: BucketsOut,
}

impl WriteJson for TotalOut {
    fn write_json<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()> {
        let head = RowHead {
            asset_id: None,
            asset_name: None,
            figures: self.figures,
            downtime_by_reason: &self.downtime_by_reason,
        };
        write_row(out, &head, &self.buckets)
    }
}

/// A bucket's edges, the same for every asset, as the start of its JSON object:
/// `{"start":"…","end":"…"` and, for a shift, `,"shift":"…"`.
struct BucketLabel {
    json: Vec<u8>,
}

impl BucketLabel {
    fn new(start: &str, end: &str, shift: Option<&str>) -> serde_json::Result<Self> {
        let mut json = b"{\"start\":".to_vec();
        serde_json::to_writer(&mut json, start)?;
        json.extend_from_slice(b",\"end\":");
        serde_json::to_writer(&mut json, end)?;
        if let Some(shift) = shift {
            json.extend_from_slice(b",\"shift\":");
            serde_json::to_writer(&mut json, shift)?;
        }
        Ok(Self { json })
    }
}

/// The figures of each bucket, shown with the buckets' shared labels.
struct BucketsOut {
    labels: Arc<[BucketLabel]>,
    figures: Vec<Figures>,
}

/// Written by hand: a year of 500 assets by day is 182,500 buckets, most of a 46 MB answer, and
/// serde's path (a key escaped and a call per field) cost twice this. The text is the same as
/// serde's for `Figures` (a test holds them together).
impl WriteJson for BucketsOut {
    fn write_json<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()> {
        out.write_all(b"[")?;
        for (i, (label, figures)) in self.labels.iter().zip(&self.figures).enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(&label.json)?;
            write_figure_fields(out, figures)?;
        }
        out.write_all(b"]")
    }
}

/// `,"run_ms":…,…,"mttr_ms":…}`: the fields of `Figures` in their declared order, closing the
/// object a label opened.
fn write_figure_fields<W: std::io::Write>(out: &mut W, f: &Figures) -> std::io::Result<()> {
    let mut digits = itoa::Buffer::new();
    let times = [
        (&b",\"run_ms\":"[..], f.run_ms),
        (b",\"down_ms\":", f.down_ms),
        (b",\"unknown_ms\":", f.unknown_ms),
        (b",\"unplanned_ms\":", f.unplanned_ms),
    ];
    for (key, value) in times {
        out.write_all(key)?;
        out.write_all(digits.format(value).as_bytes())?;
    }
    let counts = [
        (&b",\"stops\":"[..], f.stops),
        (b",\"short_stops\":", f.short_stops),
        (b",\"long_stops\":", f.long_stops),
    ];
    for (key, value) in counts {
        out.write_all(key)?;
        out.write_all(digits.format(value).as_bytes())?;
    }
    out.write_all(b",\"availability\":")?;
    match f.availability {
        Some(a) => serde_json::to_writer(&mut *out, &a)?,
        None => out.write_all(b"null")?,
    }
    for (key, value) in [
        (&b",\"mtbf_ms\":"[..], f.mtbf_ms),
        (b",\"mttr_ms\":", f.mttr_ms),
    ] {
        out.write_all(key)?;
        match value {
            Some(v) => out.write_all(digits.format(v).as_bytes())?,
            None => out.write_all(b"null")?,
        }
    }
    out.write_all(b"}")
}

/// One asset's answer before it is shaped as JSON or CSV.
struct AssetFigures<'a> {
    asset: &'a Asset,
    figures: Figures,
    buckets: Vec<Figures>,
    tallies: Vec<Tally>,
}

const FIGURE_COLUMNS: [&str; 10] = [
    "run_ms",
    "down_ms",
    "unknown_ms",
    "unplanned_ms",
    "availability",
    "stops",
    "short_stops",
    "long_stops",
    "mtbf_ms",
    "mttr_ms",
];

fn figure_cells(f: &Figures) -> Vec<String> {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    vec![
        f.run_ms.to_string(),
        f.down_ms.to_string(),
        f.unknown_ms.to_string(),
        f.unplanned_ms.to_string(),
        f.availability
            .map(|a| format!("{a:.6}"))
            .unwrap_or_default(),
        f.stops.to_string(),
        f.short_stops.to_string(),
        f.long_stops.to_string(),
        opt(f.mtbf_ms),
        opt(f.mttr_ms),
    ]
}

fn analytics_csv(
    rows: &[AssetFigures<'_>],
    spans: &[(i64, i64, Option<String>)],
    from: i64,
    to: i64,
) -> Response {
    let mut header = vec!["asset_id", "asset_name", "start", "end"];
    header.extend(FIGURE_COLUMNS);
    let mut lines = Vec::new();
    for row in rows {
        let line = |start: i64, end: i64, f: &Figures| {
            let mut cells = vec![
                row.asset.id.to_string(),
                row.asset.name.clone(),
                rfc3339(start),
                rfc3339(end),
            ];
            cells.extend(figure_cells(f));
            cells
        };
        lines.push(line(from, to, &row.figures));
        for ((s, e, _), f) in spans.iter().zip(&row.buckets) {
            lines.push(line(*s, *e, f));
        }
    }
    csv_response(&header, lines)
}

async fn list_stops(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response> {
    let Asked {
        params,
        tenant_id,
        rules,
        now,
        from,
        to,
        assets,
        downtime,
    } = asked(&state, &user, &headers, &uri).await?;
    if params.bucket.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "stops take no bucket",
        ));
    }
    let windows: Vec<_> = assets.iter().map(|a| (a, (from, to))).collect();
    let all = histories(&state, tenant_id, &rules, &downtime, now, &windows).await?;
    let mut views = Vec::new();
    for (asset, history) in assets.iter().zip(&all) {
        let in_window: Vec<Stop> = history
            .stops
            .iter()
            .copied()
            .filter(|s| (from..to).contains(&s.start) && history.is_planned(s.start))
            .collect();
        views.extend(stop_views(asset.id, history, &history.parts, &in_window));
    }
    views.retain(|v| {
        params
            .min_duration_ms
            .is_none_or(|m| v.stop_duration_ms >= m)
    });
    if params.unassigned {
        views.retain(|v| v.reason_id.is_none());
    }
    views.sort_by(|a, b| b.start.cmp(&a.start).then(a.asset_id.cmp(&b.asset_id)));
    if params.csv {
        let header = [
            "id",
            "asset_id",
            "start",
            "end",
            "duration_ms",
            "ongoing",
            "short",
            "reason_id",
            "comment",
        ];
        let rows = views
            .iter()
            .map(|v| {
                vec![
                    v.id.clone(),
                    v.asset_id.to_string(),
                    rfc3339(v.start),
                    rfc3339(v.end),
                    v.duration_ms.to_string(),
                    v.ongoing.to_string(),
                    v.short.to_string(),
                    v.reason_id.map(|r| r.to_string()).unwrap_or_default(),
                    v.comment.clone(),
                ]
            })
            .collect();
        return Ok(csv_response(&header, rows));
    }
    Ok(Json(views).into_response())
}

/// A stop part's id: `{asset_id}-{stop_start}-{part_start}`.
fn parse_stop_id(raw: &str) -> Result<(i64, i64, i64)> {
    let mut it = raw.splitn(3, '-').map(|p| p.parse::<i64>());
    match (it.next(), it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(s)), Some(Ok(p))) => Ok((a, s, p)),
        _ => Err(ApiError::not_found("stop")),
    }
}

/// The stop (as it stands now) that starts at `stop_start` on the asset; 404 if there is none.
async fn find_stop(
    state: &AppState,
    tenant_id: i64,
    asset_id: i64,
    stop_start: i64,
) -> Result<(Asset, Stop)> {
    let asset = state
        .store
        .asset(tenant_id, asset_id)
        .await
        .map_err(not_found_as("stop"))?;
    let rules = tenant_rules(state, tenant_id).await?;
    let now = now_ms();
    let window = (stop_start, stop_start + 1);
    let history = histories(state, tenant_id, &rules, &[], now, &[(&asset, window)])
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("stop"))?;
    let stop = history
        .stops
        .iter()
        .find(|s| s.start == stop_start)
        .copied()
        .ok_or_else(|| ApiError::not_found("stop"))?;
    Ok((asset, stop))
}

/// The current part starts of a stop (its start, then each split point).
async fn part_starts(
    state: &AppState,
    tenant_id: i64,
    stop: &Stop,
    asset_id: i64,
) -> Result<Vec<i64>> {
    let parts = state
        .store
        .stop_parts(tenant_id, asset_id, stop.start, stop.start + 1)
        .await?;
    let mut starts: Vec<i64> = parts
        .iter()
        .map(|p| p.part_start)
        .filter(|s| *s >= stop.start && *s < stop.end.max(stop.start + 1))
        .collect();
    starts.push(stop.start);
    starts.sort_unstable();
    starts.dedup();
    Ok(starts)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnotateBody {
    reason_id: Option<i64>,
    #[serde(default)]
    comment: String,
}

async fn annotate(
    State(state): State<AppState>,
    Operator(user): Operator,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<AnnotateBody>,
) -> Result<StatusCode> {
    let (asset_id, stop_start, part_start) = parse_stop_id(&raw)?;
    let comment = body.comment.trim().to_owned();
    if comment.chars().count() > 1000 || comment.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::bad_request(
            "invalid_field",
            "comment must be at most 1000 printable characters",
        ));
    }
    let tenant_id = user.tenant_id();
    let (_, stop) = find_stop(&state, tenant_id, asset_id, stop_start).await?;
    if !part_starts(&state, tenant_id, &stop, asset_id)
        .await?
        .contains(&part_start)
    {
        return Err(ApiError::not_found("stop"));
    }
    let part = StopPart {
        asset_id,
        stop_start,
        part_start,
        reason_id: body.reason_id,
        comment,
    };
    state
        .store
        .annotate_stop(tenant_id, part)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(m) => ApiError::bad_request("invalid_reason", m),
            other => not_found_as("stop")(other),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitBody {
    at: Value,
}

async fn split(
    State(state): State<AppState>,
    Operator(user): Operator,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<SplitBody>,
) -> Result<Json<Value>> {
    let (asset_id, stop_start, _) = parse_stop_id(&raw)?;
    let at = match &body.at {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_time_param(s, "at").ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request("invalid_field", "at must be RFC 3339 or epoch milliseconds")
    })?;
    let tenant_id = user.tenant_id();
    let (_, stop) = find_stop(&state, tenant_id, asset_id, stop_start).await?;
    if at <= stop.start || at >= stop.end {
        return Err(ApiError::bad_request(
            "invalid_field",
            "at must lie inside the stop",
        ));
    }
    state
        .store
        .split_stop(tenant_id, asset_id, stop_start, at)
        .await
        .map_err(not_found_as("stop"))?;
    Ok(Json(json!({
        "parts": [format!("{asset_id}-{stop_start}-{}", part_starts(&state, tenant_id, &stop, asset_id).await?.iter().copied().filter(|s| *s < at).max().unwrap_or(stop_start)),
                  format!("{asset_id}-{stop_start}-{at}")]
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde writes for a bucket: the label's fields, then the `Figures` as derived.
    fn serde_bucket(start: &str, end: &str, shift: Option<&str>, f: &Figures) -> String {
        let text = |s: &str| serde_json::to_string(s).unwrap();
        let shift = shift.map_or(String::new(), |s| format!(",\"shift\":{}", text(s)));
        let figures = serde_json::to_string(f).unwrap();
        format!(
            "{{\"start\":{},\"end\":{}{shift},{}",
            text(start),
            text(end),
            &figures[1..]
        )
    }

    #[test]
    fn buckets_written_by_hand_are_what_serde_writes() {
        let figures = [
            Figures::from_parts(63_578_932, 22_821_068, 0, 0, 0, 4),
            Figures::from_parts(0, 0, 86_400_000, 0, 0, 0),
            Figures::from_parts(1, 2, 3, 4, 5, 6),
            Figures::from_parts(i64::MAX / 4, 7, 0, 0, 0, 0),
        ];
        let shifts = [None, Some("Night \"B\" \\ shift"), Some("Früh")];
        let mut labels = Vec::new();
        let mut expected = Vec::new();
        for (i, f) in figures.iter().enumerate() {
            let (start, end) = (
                rfc3339(i as i64 * 3_600_000),
                rfc3339((i as i64 + 1) * 3_600_000),
            );
            let shift = shifts[i % shifts.len()];
            labels.push(BucketLabel::new(&start, &end, shift).unwrap());
            expected.push(serde_bucket(&start, &end, shift, f));
        }
        let buckets = BucketsOut {
            labels: labels.into(),
            figures: figures.to_vec(),
        };
        let mut out = Vec::new();
        buckets.write_json(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("[{}]", expected.join(","))
        );
    }
}
