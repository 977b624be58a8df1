//! Answers as CSV (RFC 4180 quoting, CRLF lines, by the `csv` crate), the same for the API
//! (`format=csv`) and the attachments of shift reports, with one guard of our own: text that a
//! spreadsheet would run as a formula (names and comments come from devices and people) gets a
//! leading `'`.

use assetlog_core::kpi::Figures;

use super::{Answer, StopView};
use crate::live::rfc3339;

/// A table: its header and rows, as text.
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The table as CSV.
    pub fn to_csv(&self) -> csv::Result<Vec<u8>> {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        out.write_record(&self.header)?;
        for row in &self.rows {
            out.write_record(row.iter().map(|cell| defused(cell).into_owned()))?;
        }
        out.into_inner().map_err(|e| e.into_error().into())
    }
}

/// Whether text, read by a spreadsheet as a cell, would run as a formula.
fn formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '@', '\t', '\r'])
        || (cell.starts_with('-') && cell[1..].parse::<f64>().is_err())
}

/// A cell as a spreadsheet should show it: formula-like text defused with a leading `'`, also
/// after each `;` (spreadsheets in locales whose list separator is `;` split the cell there).
fn defused(cell: &str) -> std::borrow::Cow<'_, str> {
    if !formula(cell) && !cell.split(';').skip(1).any(formula) {
        return cell.into();
    }
    cell.split(';')
        .map(|part| {
            if formula(part) {
                format!("'{part}")
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(";")
        .into()
}

/// The figures' columns. `not_planned_ms` is the time outside planned production (outside the
/// shifts, in breaks, in planned downtime); it was called `unplanned_ms`, which [`figures`] still
/// writes as a last column for one release, so that readers by name keep working.
const FIGURE_COLUMNS: [&str; 10] = [
    "run_ms",
    "down_ms",
    "unknown_ms",
    "not_planned_ms",
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

/// An analytics answer: per asset, a line for the window (`row` = `total`), then one per bucket
/// (`row` = `bucket`, with the shift's name in `shift` for shift buckets). The columns after
/// the figures were added later, at the end, so that readers by position keep working.
pub fn figures(answer: &Answer) -> Table {
    let mut header = vec!["asset_id", "asset_name", "start", "end"];
    header.extend(FIGURE_COLUMNS);
    header.extend(["row", "shift", "unplanned_ms"]);
    let mut rows = Vec::new();
    for asset in &answer.assets {
        let line = |start: i64, end: i64, f: &Figures, row: &str, shift: Option<&str>| {
            let mut cells = vec![
                asset.asset_id.to_string(),
                asset.asset_name.clone(),
                rfc3339(start),
                rfc3339(end),
            ];
            cells.extend(figure_cells(f));
            cells.extend([
                row.to_owned(),
                shift.unwrap_or_default().to_owned(),
                f.unplanned_ms.to_string(),
            ]);
            cells
        };
        rows.push(line(
            answer.from,
            answer.to,
            &asset.row.figures,
            "total",
            None,
        ));
        for (b, f) in answer.buckets.iter().zip(&asset.row.buckets) {
            rows.push(line(b.start, b.end, f, "bucket", b.shift.as_deref()));
        }
    }
    Table { header, rows }
}

/// Stops, a line per part.
pub fn stops(views: &[StopView]) -> Table {
    let header = vec![
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
    Table { header, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[&[&str]]) -> String {
        let table = Table {
            header: vec!["a", "b"],
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect(),
        };
        String::from_utf8(table.to_csv().unwrap()).unwrap()
    }

    #[test]
    fn cells_are_quoted_as_rfc_4180_asks() {
        assert_eq!(
            text(&[&["plain", "with,comma"], &["say \"hi\"", "two\nlines"]]),
            "a,b\r\nplain,\"with,comma\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
    }

    #[test]
    fn formulas_after_a_semicolon_are_defused_too() {
        assert_eq!(
            text(&[&["Press;=HYPERLINK(1)", "a;b;-2;@x"]]),
            "a,b\r\nPress;'=HYPERLINK(1),a;b;-2;'@x\r\n"
        );
    }

    #[test]
    fn formulas_are_defused_and_negative_numbers_are_not() {
        assert_eq!(
            text(&[&["=1+1", "-12.5"], &["@SUM(A1)", "-x"], &["+1", "\tx"]]),
            "a,b\r\n'=1+1,-12.5\r\n'@SUM(A1),'-x\r\n'+1,'\tx\r\n"
        );
    }
}
