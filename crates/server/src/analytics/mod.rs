//! Analytics and stops: the stored history turned into availability, MTBF, MTTR and stops, per
//! asset and bucket, with downtime by reason; and the stops themselves, which operators annotate
//! and split. Typed questions in, typed answers out: the HTTP layer (`http::analytics`,
//! `http::stops`) only parses parameters and writes the answers as JSON or CSV.
//!
//! The arithmetic is `assetlog_core::kpi`; the wall-clock rules (shifts, time-zone buckets) are
//! `crate::calendar`; this module gathers the inputs from the store, calls them, and keeps the
//! day rollups (the store's cache of its day figures) filled.
//!
//! # Layout
//! - [`rules`]: a tenant's time zone, threshold and calendar, and the window of a question.
//! - [`history`]: one asset's history around a window: timeline, stops, planned time, notes.
//! - [`reasons`]: down time by reason.
//! - [`days`]: the day plan (rollups read, missing days computed and stored) and buckets.
//! - [`export`]: answers as CSV tables (the API's `format=csv`, the reports' attachments).
//! - [`timeline`]: each asset's states, planned time and planned downtime over a window, and
//!   the window's shifts, as the timeline chart draws them.

mod days;
pub mod export;
mod history;
mod reasons;
mod rules;
pub mod timeline;

use std::collections::HashMap;
use std::fmt;

use assetlog_core::kpi::{Figures, Stop};

pub use history::StopView;
pub use reasons::ReasonShare;
pub use rules::{MAX_WINDOW_MS, Rules};

use crate::AppState;
use crate::calendar::{self, Bucket};
use crate::domain::{AssetId, Comment, Refusal, TenantId};
use crate::store::{Asset, Reason, StopPart, Store, StoreError, now_ms};
use days::{DayPlan, bucket_spans, sum_days};
use history::{histories, stop_views};
use reasons::{downtime_by_reason, merge_tallies, named};

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The thing asked about is not the tenant's (or does not exist: the same to the asker).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A reason that is not the tenant's.
    #[error("{0}")]
    InvalidReason(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = AnalyticsError> = std::result::Result<T, E>;

/// A store's NotFound as the thing the asker named.
fn not_found(what: &'static str) -> impl Fn(StoreError) -> AnalyticsError {
    move |e| match e {
        StoreError::NotFound => AnalyticsError::NotFound(what),
        other => other.into(),
    }
}

/// What an analytics or stops question covers, checked, with what its answer depends on.
pub struct Scope {
    pub tenant_id: TenantId,
    pub rules: Rules,
    pub now: i64,
    pub from: i64,
    pub to: i64,
    assets: Vec<Asset>,
    /// Planned downtime in the window: (asset, or all), start, end.
    downtime: Vec<(Option<AssetId>, i64, i64)>,
}

impl Scope {
    /// The tenant's assets `asset_ids` (all when empty; another tenant's id is not found) over
    /// `window` (absent ends: today in the tenant's zone).
    pub async fn new(
        store: &Store,
        tenant_id: TenantId,
        window: (Option<i64>, Option<i64>),
        asset_ids: &[AssetId],
    ) -> Result<Self> {
        let rules = Rules::load(store, tenant_id).await?;
        let now = now_ms();
        let (from, to) = rules::window(window, &rules, now)?;
        let assets = chosen_assets(store, tenant_id, asset_ids).await?;
        let downtime = store
            .planned_downtime(tenant_id, Some(from), Some(to))
            .await?
            .into_iter()
            .flat_map(|d| {
                d.spans(rules.tz, from, to)
                    .into_iter()
                    .map(move |s| (d.asset_id, s.start, s.end))
            })
            .collect();
        Ok(Self {
            tenant_id,
            rules,
            now,
            from,
            to,
            assets,
            downtime,
        })
    }
}

impl Scope {
    /// Refuses a question that needs more than `max` figures: one per asset and bucket, or per
    /// asset and day where the figures are summed from days (no bucket, day, week, month). The
    /// answer's size and the work both grow with it (a year of 64 assets by hour is 560,000).
    pub fn check_work(&self, bucket: Option<Bucket>, max: u64) -> Result<()> {
        let per_asset = days::figures_per_asset(bucket, &self.rules, (self.from, self.to));
        let needed = (per_asset.max(1) as u64).saturating_mul(self.assets.len() as u64);
        if needed <= max {
            return Ok(());
        }
        Err(Refusal::new(
            "query_too_large",
            format!(
                "this question needs {needed} figures ({} assets × {per_asset} {}); one question \
                 may need at most {max}: ask for fewer assets, a shorter window or a longer bucket",
                self.assets.len(),
                match bucket {
                    Some(Bucket::Hour | Bucket::Shift) => "buckets",
                    _ => "days",
                },
            ),
        )
        .into())
    }
}

/// The assets asked for (each must be the tenant's: another tenant's id is a 404), or all.
async fn chosen_assets(store: &Store, tenant_id: TenantId, ids: &[AssetId]) -> Result<Vec<Asset>> {
    if ids.is_empty() {
        return Ok(store.assets(tenant_id).await?);
    }
    let mut assets = Vec::with_capacity(ids.len());
    for id in ids {
        if !assets.iter().any(|a: &Asset| a.id == *id) {
            assets.push(
                store
                    .asset(tenant_id, *id)
                    .await
                    .map_err(not_found("asset"))?,
            );
        }
    }
    Ok(assets)
}

/// One bucket of the answer: its span, and the shift's name for shift buckets.
#[derive(Debug, Clone)]
pub struct BucketSpan {
    pub start: i64,
    pub end: i64,
    pub shift: Option<String>,
}

/// The figures of one asset (or of all: the total) over the window and each bucket.
#[derive(Debug, Clone)]
pub struct RowFigures {
    pub figures: Figures,
    /// One per bucket of [`Answer::buckets`], in order.
    pub buckets: Vec<Figures>,
    pub downtime_by_reason: Vec<ReasonShare>,
}

#[derive(Debug, Clone)]
pub struct AssetFigures {
    pub asset_id: AssetId,
    pub asset_name: String,
    pub row: RowFigures,
}

/// The answer to an analytics question.
#[derive(Debug, Clone)]
pub struct Answer {
    pub from: i64,
    pub to: i64,
    pub timezone: &'static str,
    pub buckets: Vec<BucketSpan>,
    pub assets: Vec<AssetFigures>,
    pub total: RowFigures,
}

/// One asset's figures, before reasons are named.
struct Tallied<'a> {
    asset: &'a Asset,
    figures: Figures,
    buckets: Vec<Figures>,
    tallies: Vec<reasons::Tally>,
}

/// The figures of the scope's assets over its window, and over each `bucket` of it.
///
/// Day, week and month buckets (and none) are summed from day figures, most of them read from
/// the day rollups; the days computed on the way that are whole and settled are stored as
/// rollups for the next question. Hour and shift buckets are computed from the events.
pub async fn figures(state: &AppState, scope: &Scope, bucket: Option<Bucket>) -> Result<Answer> {
    let store = &state.store;
    let Scope {
        tenant_id,
        rules,
        now,
        from,
        to,
        ..
    } = scope;
    let (tenant_id, now, from, to) = (*tenant_id, *now, *from, *to);
    let reasons = store.reasons(tenant_id).await?;
    let reasons: HashMap<i64, &Reason> = reasons.iter().map(|r| (r.id, r)).collect();
    let spans = bucket
        .map(|b| bucket_spans(b, rules, (from, to)))
        .unwrap_or_default();

    let mut rows: Vec<Tallied> = Vec::with_capacity(scope.assets.len());
    let by_day = matches!(
        bucket,
        None | Some(Bucket::Day | Bucket::Week | Bucket::Month)
    );
    if by_day {
        let days = calendar::days(rules.tz, from, to);
        let stored = store
            .day_rollups(
                tenant_id,
                scope.assets.iter().map(|a| a.id).collect(),
                from,
                to,
            )
            .await?;
        let plans: Vec<DayPlan> = scope
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
        let mut histories = histories(store, tenant_id, rules, &scope.downtime, now, &windows)
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
            rows.push(Tallied {
                asset,
                figures,
                buckets,
                tallies,
            });
        }
        // One write for all of them; a failure only means computing them again next time.
        if !settled.is_empty()
            && let Err(e) = store.save_day_rollups(tenant_id, settled).await
        {
            tracing::warn!("cannot store day rollups: {e}");
        }
    } else {
        let windows: Vec<_> = scope.assets.iter().map(|a| (a, (from, to))).collect();
        let all = histories(store, tenant_id, rules, &scope.downtime, now, &windows).await?;
        for (asset, history) in scope.assets.iter().zip(all) {
            let figures = history.figures(from, to, now);
            let views = history.annotated_stops(asset.id, (from, to));
            let tallies = downtime_by_reason(&views, &history, &figures, (from, to), now, &reasons);
            let buckets = spans
                .iter()
                .map(|(s, e, _)| history.figures(*s, *e, now))
                .collect();
            rows.push(Tallied {
                asset,
                figures,
                buckets,
                tallies,
            });
        }
    }
    let total = RowFigures {
        figures: rows.iter().map(|r| r.figures).sum(),
        buckets: (0..spans.len())
            .map(|i| rows.iter().map(|r| r.buckets[i]).sum())
            .collect(),
        downtime_by_reason: named(
            &merge_tallies(rows.iter().flat_map(|r| r.tallies.iter().copied())),
            &reasons,
        ),
    };
    let assets = rows
        .into_iter()
        .map(|r| AssetFigures {
            asset_id: r.asset.id,
            asset_name: r.asset.name.clone(),
            row: RowFigures {
                figures: r.figures,
                downtime_by_reason: named(&r.tallies, &reasons),
                buckets: r.buckets,
            },
        })
        .collect();
    Ok(Answer {
        from,
        to,
        timezone: rules.tz.name(),
        buckets: spans
            .into_iter()
            .map(|(start, end, shift)| BucketSpan { start, end, shift })
            .collect(),
        assets,
        total,
    })
}

/// Assets whose days one step of [`settle_days`] computes: a step holds both cores for a while
/// on a long history (about 50 ms an asset-year), so other work gets in between steps.
const SETTLE_ASSETS: usize = 16;

/// Computes and stores the day rollups of every whole, settled day of each tenant's history
/// (from its first event, at most [`MAX_WINDOW_MS`] back from today), a few assets at a time,
/// so that no reader pays for them: the days that ended since the last run, and the days a
/// backfill or a settings change made stale. Days already stored cost only their read.
pub async fn settle_days(state: &AppState) -> Result<()> {
    for tenant_id in state.store.tenant_ids().await? {
        let Some(first) = state.store.first_event_ts(tenant_id).await? else {
            continue;
        };
        let rules = Rules::load(&state.store, tenant_id).await?;
        let now = now_ms();
        let today = calendar::today(rules.tz, now).start;
        let mut from = calendar::today(rules.tz, first)
            .start
            .max(today - MAX_WINDOW_MS);
        // The days that end before the retention's cutoff go at the next housekeeping: the
        // events kept from before it (what later days need) are not worth rolling up.
        if let Some(days) = rules.retention_days {
            let cutoff = now.saturating_sub(days.saturating_mul(crate::store::DAY_MS));
            from = from.max(calendar::today(rules.tz, cutoff).start);
        }
        if from >= today {
            continue;
        }
        let assets: Vec<AssetId> = state
            .store
            .assets(tenant_id)
            .await?
            .iter()
            .map(|a| a.id)
            .collect();
        for ids in assets.chunks(SETTLE_ASSETS) {
            let scope = Scope::new(&state.store, tenant_id, (Some(from), Some(today)), ids).await?;
            figures(state, &scope, None).await?;
        }
    }
    Ok(())
}

/// Which stops a stops question wants.
#[derive(Debug, Clone, Copy, Default)]
pub struct StopFilter {
    /// Only stops that lasted at least this long (in all).
    pub min_duration_ms: Option<i64>,
    /// Only parts without a reason.
    pub unassigned: bool,
}

/// The stops that begin inside the scope's window in planned time, cut into their annotated
/// parts, newest first. A window with more than `max_stops` (before the filter) is refused:
/// the answer of 100,000 is about 20 MB of JSON.
pub async fn stops(
    store: &Store,
    scope: &Scope,
    filter: StopFilter,
    max_stops: usize,
) -> Result<Vec<StopView>> {
    let (from, to) = (scope.from, scope.to);
    let windows: Vec<_> = scope.assets.iter().map(|a| (a, (from, to))).collect();
    let all = histories(
        store,
        scope.tenant_id,
        &scope.rules,
        &scope.downtime,
        scope.now,
        &windows,
    )
    .await?;
    let in_window: Vec<Vec<Stop>> = all
        .iter()
        .map(|history| {
            history
                .stops
                .iter()
                .copied()
                .filter(|s| (from..to).contains(&s.start) && history.is_planned(s.start))
                .collect()
        })
        .collect();
    let count: usize = in_window.iter().map(Vec::len).sum();
    if count > max_stops {
        return Err(Refusal::new(
            "query_too_large",
            format!(
                "this window holds {count} stops; one question may list at most {max_stops}: \
                 ask for a shorter window or fewer assets"
            ),
        )
        .into());
    }
    let mut views = Vec::with_capacity(count);
    for ((asset, history), in_window) in scope.assets.iter().zip(&all).zip(&in_window) {
        views.extend(stop_views(asset.id, history, &history.parts, in_window));
    }
    views.retain(|v| {
        filter
            .min_duration_ms
            .is_none_or(|m| v.stop_duration_ms >= m)
    });
    if filter.unassigned {
        views.retain(|v| v.reason_id.is_none());
    }
    views.sort_by(|a, b| b.start.cmp(&a.start).then(a.asset_id.cmp(&b.asset_id)));
    Ok(views)
}

/// A stop part's id: `{asset_id}-{stop_start}-{part_start}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopId {
    pub asset_id: AssetId,
    pub stop_start: i64,
    pub part_start: i64,
}

impl StopId {
    /// Anything that is not a stop id names no stop.
    pub fn parse(raw: &str) -> Result<Self> {
        let mut it = raw.splitn(3, '-').map(|p| p.parse::<i64>());
        match (it.next(), it.next(), it.next()) {
            (Some(Ok(asset_id)), Some(Ok(stop_start)), Some(Ok(part_start))) => Ok(Self {
                asset_id: AssetId(asset_id),
                stop_start,
                part_start,
            }),
            _ => Err(AnalyticsError::NotFound("stop")),
        }
    }
}

impl fmt::Display for StopId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}",
            self.asset_id, self.stop_start, self.part_start
        )
    }
}

/// The stop (as it stands now) that starts at `stop_start` on the asset; 404 if there is none.
async fn find_stop(
    store: &Store,
    tenant_id: TenantId,
    asset_id: AssetId,
    stop_start: i64,
) -> Result<(Asset, Stop)> {
    let asset = store
        .asset(tenant_id, asset_id)
        .await
        .map_err(not_found("stop"))?;
    let rules = Rules::load(store, tenant_id).await?;
    let now = now_ms();
    let window = (stop_start, stop_start + 1);
    let history = histories(store, tenant_id, &rules, &[], now, &[(&asset, window)])
        .await?
        .pop()
        .ok_or(AnalyticsError::NotFound("stop"))?;
    let stop = history
        .stops
        .iter()
        .find(|s| s.start == stop_start)
        .copied()
        .ok_or(AnalyticsError::NotFound("stop"))?;
    Ok((asset, stop))
}

/// The current part starts of a stop (its start, then each split point).
async fn part_starts(
    store: &Store,
    tenant_id: TenantId,
    stop: &Stop,
    asset_id: AssetId,
) -> Result<Vec<i64>> {
    let parts = store
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

/// Gives a stop part a reason (or none) and a comment.
pub async fn annotate(
    store: &Store,
    tenant_id: TenantId,
    id: StopId,
    reason_id: Option<i64>,
    comment: Comment,
) -> Result<()> {
    let (_, stop) = find_stop(store, tenant_id, id.asset_id, id.stop_start).await?;
    if !part_starts(store, tenant_id, &stop, id.asset_id)
        .await?
        .contains(&id.part_start)
    {
        return Err(AnalyticsError::NotFound("stop"));
    }
    let part = StopPart {
        asset_id: id.asset_id,
        stop_start: id.stop_start,
        part_start: id.part_start,
        reason_id,
        comment: comment.into_string(),
    };
    store
        .annotate_stop(tenant_id, part)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => AnalyticsError::InvalidReason(m),
            other => not_found("stop")(other),
        })
}

/// Splits the stop of `id` at `at` (inside it); answers the ids of the two parts around `at`.
pub async fn split(store: &Store, tenant_id: TenantId, id: StopId, at: i64) -> Result<[StopId; 2]> {
    let StopId {
        asset_id,
        stop_start,
        ..
    } = id;
    let (_, stop) = find_stop(store, tenant_id, asset_id, stop_start).await?;
    if at <= stop.start || at >= stop.end {
        return Err(Refusal::new(
            "invalid_field",
            "the split time must lie inside the stop: after its start and before its end",
        )
        .into());
    }
    store
        .split_stop(tenant_id, asset_id, stop_start, at)
        .await
        .map_err(not_found("stop"))?;
    let before = part_starts(store, tenant_id, &stop, asset_id)
        .await?
        .into_iter()
        .filter(|s| *s < at)
        .max()
        .unwrap_or(stop_start);
    let part = |part_start| StopId {
        asset_id,
        stop_start,
        part_start,
    };
    Ok([part(before), part(at)])
}
