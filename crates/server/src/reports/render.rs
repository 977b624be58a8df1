//! A report's email, made once when its period ends: a summary as a mail client shows it (HTML
//! with inline styles and no scripts, and the same as plain text) with the period's analytics
//! and stops attached as CSV, the tables of `format=csv` (`analytics::export`).

use std::collections::HashMap;
use std::fmt::Write;

use assetlog_core::kpi::Figures;
use chrono::DateTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::config::Report;
use super::period::Period;
use crate::alerts::mail::escape;
use crate::analytics::{Answer, StopView, export};
use crate::store::Reason;

/// An email as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Email {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub content: String,
}

/// How many of the longest stops the summary lists.
const LONGEST: usize = 5;

/// What the summary says of one period.
pub struct Summary<'a> {
    pub report: &'a Report,
    pub period: &'a Period,
    pub tz: Tz,
    pub answer: &'a Answer,
    /// The stops that began in the period, a line per part.
    pub stops: &'a [StopView],
    pub reasons: &'a [Reason],
}

/// "3 h 05 min", "12 min 40 s", "40 s".
fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {s:02} s")
    } else {
        format!("{s} s")
    }
}

fn percent(f: &Figures) -> String {
    f.availability
        .map(|a| format!("{:.1} %", a * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn local(tz: Tz, ms: i64, format: &str) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .format(format)
        .to_string()
}

/// A table of text cells, written as HTML and as text.
struct Grid {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Grid {
    fn html(&self, out: &mut String) {
        let cell = "padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;font-size:13px";
        out.push_str("<table style=\"border-collapse:collapse;margin:0 0 16px\"><tr>");
        for h in &self.header {
            let _ = write!(
                out,
                "<th style=\"{cell};color:#555;font-weight:bold\">{}</th>",
                escape(h)
            );
        }
        out.push_str("</tr>");
        for row in &self.rows {
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<td style=\"{cell}\">{}</td>", escape(c));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }

    fn text(&self, out: &mut String) {
        for row in &self.rows {
            let cells: Vec<String> = self
                .header
                .iter()
                .zip(row)
                .map(|(h, c)| format!("{h}: {c}"))
                .collect();
            let _ = writeln!(out, "- {}", cells.join(", "));
        }
        out.push('\n');
    }
}

/// The email of one period of a report.
pub fn email(s: &Summary<'_>) -> csv::Result<Email> {
    let total = &s.answer.total.figures;
    let span = format!(
        "{} – {} ({})",
        local(s.tz, s.period.start, "%a %-d %b %Y %H:%M"),
        local(s.tz, s.period.end, "%a %-d %b %Y %H:%M"),
        s.tz.name()
    );
    let summary = Grid {
        header: vec![
            "Availability",
            "Run time",
            "Down time",
            "Stops",
            "MTBF",
            "MTTR",
        ],
        rows: vec![vec![
            percent(total),
            duration(total.run_ms),
            duration(total.down_ms),
            total.stops.to_string(),
            total.mtbf_ms.map(duration).unwrap_or_else(|| "–".into()),
            total.mttr_ms.map(duration).unwrap_or_else(|| "–".into()),
        ]],
    };
    let machines = Grid {
        header: vec!["Machine", "Availability", "Run time", "Down time", "Stops"],
        rows: s
            .answer
            .assets
            .iter()
            .map(|a| {
                let f = &a.row.figures;
                vec![
                    a.asset_name.clone(),
                    percent(f),
                    duration(f.run_ms),
                    duration(f.down_ms),
                    f.stops.to_string(),
                ]
            })
            .collect(),
    };
    let names: HashMap<_, _> = s
        .answer
        .assets
        .iter()
        .map(|a| (a.asset_id, &a.asset_name))
        .collect();
    let reasons: HashMap<i64, &Reason> = s.reasons.iter().map(|r| (r.id, r)).collect();
    // Each stop once (its first part), as long as it lasted within the period.
    let mut longest: Vec<&StopView> = s.stops.iter().filter(|v| v.start == v.stop_start).collect();
    let within = |v: &StopView| v.stop_duration_ms.min(s.period.end - v.stop_start);
    longest.sort_by_key(|v| (std::cmp::Reverse(within(v)), v.stop_start));
    longest.truncate(LONGEST);
    let longest = Grid {
        header: vec!["Machine", "Stopped at", "Duration", "Reason", "Comment"],
        rows: longest
            .iter()
            .map(|v| {
                vec![
                    names
                        .get(&v.asset_id)
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    local(s.tz, v.stop_start, "%a %H:%M"),
                    duration(within(v)),
                    v.reason_id
                        .and_then(|id| reasons.get(&id))
                        .map(|r| r.name.clone())
                        .unwrap_or_else(|| "unassigned".into()),
                    v.comment.clone(),
                ]
            })
            .collect(),
    };
    let by_reason = Grid {
        header: vec!["Reason", "Category", "Stops", "Down time"],
        rows: s
            .answer
            .total
            .downtime_by_reason
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.category.clone().unwrap_or_default(),
                    r.stops.to_string(),
                    duration(r.down_ms),
                ]
            })
            .collect(),
    };
    let sections = [
        ("Summary", &summary),
        ("Machines", &machines),
        ("Longest stops", &longest),
        ("Down time by reason", &by_reason),
    ];

    let title = format!("{}: {}", s.report.name, s.period.label);
    let mut html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:Arial,Helvetica,sans-serif;color:#222\">\
         <h2 style=\"margin:0 0 4px;font-size:18px\">{}</h2>\
         <p style=\"margin:0 0 16px;font-size:13px;color:#555\">{}</p>",
        escape(&title),
        escape(&span)
    );
    let mut text = format!("{title}\n{span}\n\n");
    for (heading, grid) in sections {
        let _ = write!(
            html,
            "<h3 style=\"margin:0 0 6px;font-size:15px\">{}</h3>",
            escape(heading)
        );
        let _ = writeln!(text, "{heading}");
        if grid.rows.is_empty() {
            html.push_str("<p style=\"margin:0 0 16px;font-size:13px;color:#555\">None.</p>");
            text.push_str("None.\n\n");
        } else {
            grid.html(&mut html);
            grid.text(&mut text);
        }
    }
    html.push_str(
        "<p style=\"margin:16px 0 0;font-size:11px;color:#777\">Sent by assetlog. The analytics \
         and stops of the period are attached as CSV.</p></body></html>",
    );

    let stem = local(s.tz, s.period.start, "%Y-%m-%d-%H%M");
    let csv = |table: export::Table| -> csv::Result<String> {
        Ok(String::from_utf8_lossy(&table.to_csv()?).into_owned())
    };
    Ok(Email {
        to: s.report.to.clone(),
        subject: format!("[assetlog] {title}"),
        text,
        html,
        attachments: vec![
            Attachment {
                filename: format!("analytics-{stem}.csv"),
                content_type: "text/csv".into(),
                content: csv(export::figures(s.answer))?,
            },
            Attachment {
                filename: format!("stops-{stem}.csv"),
                content_type: "text/csv".into(),
                content: csv(export::stops(s.stops))?,
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(40_000), "40 s");
        assert_eq!(duration(760_000), "12 min 40 s");
        assert_eq!(duration(11_100_000), "3 h 05 min");
        assert_eq!(duration(-5), "0 s");
    }
}
