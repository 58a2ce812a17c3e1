//! The overview's charts: attempts per day, one line per scope or outcome, drawn to SVG by
//! plotters on the server, so the page needs no script.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeDelta};
use plotters::prelude::*;

use crate::DailyCount;

/// Size of a chart in SVG units; the page scales it to the window's width.
const SIZE: (u32, u32) = (760, 320);

/// Line colours, in the keys' order (by name); a chart with more keys reuses them.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0x25, 0x63, 0xeb),
    RGBColor(0xdc, 0x26, 0x26),
    RGBColor(0x16, 0xa3, 0x4a),
    RGBColor(0xd9, 0x77, 0x06),
    RGBColor(0x7c, 0x3a, 0xed),
    RGBColor(0x0e, 0x74, 0x90),
    RGBColor(0xdb, 0x27, 0x77),
    RGBColor(0x4b, 0x55, 0x63),
];

/// One line per key: its count on each of `days` days from `first`, 0 where it had none.
pub(crate) fn series(
    points: &[DailyCount],
    first: NaiveDate,
    days: u32,
) -> Vec<(String, Vec<i64>)> {
    let mut lines: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for point in points {
        let Ok(index) = usize::try_from((point.day - first).num_days()) else {
            continue;
        };
        if index >= days as usize {
            continue;
        }
        lines
            .entry(&point.key)
            .or_insert_with(|| vec![0; days as usize])[index] += point.count;
    }
    lines
        .into_iter()
        .map(|(key, counts)| (key.to_string(), counts))
        .collect()
}

/// The SVG of `lines` over `days` days from `first`, with a legend naming each line. plotters
/// escapes the text it writes, so keys are safe in it.
pub(crate) fn svg(
    title: &str,
    lines: &[(String, Vec<i64>)],
    first: NaiveDate,
    days: u32,
) -> Result<String, String> {
    let mut out = String::new();
    draw(&mut out, title, lines, first, days)?;
    Ok(out)
}

fn draw(
    out: &mut String,
    title: &str,
    lines: &[(String, Vec<i64>)],
    first: NaiveDate,
    days: u32,
) -> Result<(), String> {
    let top = lines
        .iter()
        .flat_map(|(_, counts)| counts.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let root = SVGBackend::with_string(out, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(why)?;
    let last = i64::from(days.saturating_sub(1));
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(44)
        .build_cartesian_2d(0i64..last.max(1), 0i64..top + top / 10 + 1)
        .map_err(why)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(5)
        .x_label_formatter(&|day| (first + TimeDelta::days(*day)).format("%m-%d").to_string())
        .light_line_style(RGBColor(0xee, 0xf0, 0xf4))
        .draw()
        .map_err(why)?;
    for (i, (key, counts)) in lines.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                counts.iter().enumerate().map(|(day, &n)| (day as i64, n)),
                colour.stroke_width(2),
            ))
            .map_err(why)?
            .label(key.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    if !lines.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(0xdd, 0xe1, 0xe8))
            .draw()
            .map_err(why)?;
    }
    root.present().map_err(why)?;
    Ok(())
}

/// A plotters error as the sentence the page shows.
fn why(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: u32, key: &str, count: i64) -> DailyCount {
        DailyCount {
            day: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            key: key.into(),
            count,
        }
    }

    #[test]
    fn series_fill_missing_days_with_zero_and_drop_days_outside_the_window() {
        let first = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let points = [
            point(1, "unsubscribe", 9),
            point(2, "unsubscribe", 3),
            point(4, "preferences", 1),
            point(4, "unsubscribe", 2),
            point(6, "unsubscribe", 7),
        ];
        assert_eq!(
            series(&points, first, 4),
            [
                ("preferences".to_string(), vec![0, 0, 1, 0]),
                ("unsubscribe".to_string(), vec![3, 0, 2, 0]),
            ]
        );
    }

    #[test]
    fn the_svg_names_each_line_with_its_key_escaped() {
        let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let lines = [("a<b>&c".to_string(), vec![1, 4, 2])];
        let svg = svg("Attempts", &lines, first, 3).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("a&lt;b&gt;&amp;c"), "{svg}");
        assert!(!svg.contains("a<b>"), "{svg}");
        assert!(svg.contains("<polyline"), "{svg}");
    }
}
