//! The analytics answer as JSON, written by hand where serde's generic path was measured too
//! slow (the buckets); a test holds the text equal to what serde writes.

use crate::domain::AssetId;
use std::sync::Arc;

use assetlog_core::kpi::Figures;
use axum::response::Response;
use serde::Serialize;

use crate::analytics::{Answer, ReasonShare};
use crate::http::stream::{WriteJson, streamed_json_array};
use crate::live::rfc3339;

/// The answer's first fields; `assets` and `total` follow (see `analytics`).
#[derive(Serialize)]
struct AnswerHead {
    from: String,
    to: String,
    timezone: &'static str,
}

struct AssetOut {
    asset_id: AssetId,
    asset_name: String,
    figures: Figures,
    downtime_by_reason: Vec<ReasonShare>,
    buckets: BucketsOut,
}

/// The answer as JSON: `{"from", "to", "timezone", "assets": [...], "total"}`, streamed, with
/// the assets written in parallel between the two ends.
///
/// Typed answer structs are written straight into the body: a year of 500 assets by day is
/// 180,000 buckets (46 MB), and building a `serde_json::Value` tree of them first cost most of
/// the time. `guard` (the question's slot) is held until the answer is sent.
pub(super) fn answer(answer: Answer, guard: impl Send + 'static) -> std::io::Result<Response> {
    let labels: Arc<[BucketLabel]> = answer
        .buckets
        .iter()
        .map(|b| BucketLabel::new(&rfc3339(b.start), &rfc3339(b.end), b.shift.as_deref()))
        .collect::<serde_json::Result<_>>()?;
    let total = TotalOut {
        figures: answer.total.figures,
        downtime_by_reason: answer.total.downtime_by_reason,
        buckets: BucketsOut {
            labels: labels.clone(),
            figures: answer.total.buckets,
        },
    };
    let assets: Vec<AssetOut> = answer
        .assets
        .into_iter()
        .map(|a| AssetOut {
            asset_id: a.asset_id,
            asset_name: a.asset_name,
            figures: a.row.figures,
            downtime_by_reason: a.row.downtime_by_reason,
            buckets: BucketsOut {
                labels: labels.clone(),
                figures: a.row.buckets,
            },
        })
        .collect();
    let mut head = open_object(&AnswerHead {
        from: rfc3339(answer.from),
        to: rfc3339(answer.to),
        timezone: answer.timezone,
    })?;
    head.extend_from_slice(b",\"assets\":");
    let mut tail = b",\"total\":".to_vec();
    total.write_json(&mut tail)?;
    tail.push(b'}');
    Ok(streamed_json_array(head, assets, tail, guard))
}

/// An asset's or the total's fields before its buckets.
#[derive(Serialize)]
struct RowHead<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    asset_id: Option<AssetId>,
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
