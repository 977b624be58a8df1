//! CSV answers (`Accept: text/csv` or `format=csv`), written by the `csv` crate (RFC 4180
//! quoting, CRLF lines), with one guard of our own: text that a spreadsheet would run as a
//! formula (names and comments come from devices and people) gets a leading `'`.

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Whether the client asked for CSV (`Accept: text/csv`).
pub fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"))
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

/// A CSV answer: `header`, then `rows`.
pub fn response(header: &[&str], rows: Vec<Vec<String>>) -> Response {
    match write(header, &rows) {
        Ok(body) => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response(),
        Err(e) => ApiError::Internal(e.into()).into_response(),
    }
}

fn write(header: &[&str], rows: &[Vec<String>]) -> csv::Result<Vec<u8>> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(header)?;
    for row in rows {
        out.write_record(row.iter().map(|cell| defused(cell).into_owned()))?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[&[&str]]) -> String {
        let rows = rows
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect::<Vec<_>>();
        String::from_utf8(write(&["a", "b"], &rows).unwrap()).unwrap()
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
