//! A report's rows as a table, JSON or CSV.

use clap::ValueEnum;
use rocket_linktoken::{ReportBy, ReportRow};

/// How a report is printed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns and a total, for people.
    Table,
    /// An array of objects, `{"<by>": key, "count": n}`; the key is null for no status.
    Json,
    /// A header line, then one line per group; the key is empty for no status.
    Csv,
}

pub(crate) fn render(by: ReportBy, rows: &[ReportRow], format: Format) -> String {
    let heading = by.name();
    match format {
        Format::Table => {
            let key = |row: &ReportRow| row.key.clone().unwrap_or_else(|| "-".into());
            let width = rows
                .iter()
                .map(|row| key(row).len())
                .fold(heading.len().max(5), usize::max);
            let total: i64 = rows.iter().map(|row| row.count).sum();
            let mut out = format!("{heading:<width$}  {:>8}\n", "count");
            for row in rows {
                out += &format!("{:<width$}  {:>8}\n", key(row), row.count);
            }
            out += &format!("{:<width$}  {total:>8}\n", "total");
            out
        }
        Format::Json => {
            let array: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| serde_json::json!({ heading: row.key, "count": row.count }))
                .collect();
            format!("{}\n", serde_json::Value::Array(array))
        }
        Format::Csv => {
            let mut out = format!("{heading},count\n");
            for row in rows {
                out += &format!(
                    "{},{}\n",
                    csv_field(row.key.as_deref().unwrap_or("")),
                    row.count
                );
            }
            out
        }
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<ReportRow> {
        vec![
            ReportRow {
                key: Some("200".into()),
                count: 3,
            },
            ReportRow {
                key: None,
                count: 1,
            },
        ]
    }

    #[test]
    fn each_format_prints_every_group() {
        assert_eq!(
            render(ReportBy::Status, &rows(), Format::Table),
            "status     count\n200            3\n-              1\ntotal          4\n"
        );
        assert_eq!(
            render(ReportBy::Status, &rows(), Format::Json),
            "[{\"count\":3,\"status\":\"200\"},{\"count\":1,\"status\":null}]\n"
        );
        assert_eq!(
            render(ReportBy::Status, &rows(), Format::Csv),
            "status,count\n200,3\n,1\n"
        );
    }

    #[test]
    fn csv_quotes_what_would_split_a_field() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
