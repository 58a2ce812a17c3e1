//! Times and durations as the command line gives them.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// A duration: whole seconds, or a number followed by `s`, `m`, `h`, `d` or `w`.
pub(crate) fn duration(text: &str) -> Result<TimeDelta, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => 0,
    };
    digits
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && seconds_per_unit > 0)
        .and_then(|n| n.checked_mul(seconds_per_unit))
        .and_then(TimeDelta::try_seconds)
        .ok_or_else(|| {
            format!("`{text}` is not a duration: give seconds, or a number followed by s, m, h, d or w (such as 90d)")
        })
}

/// A time: `now`, RFC 3339 (`2026-11-30T12:00:00Z`), a UTC date (`2026-11-30`, its
/// midnight), or an age (`90d`: ninety days ago).
pub(crate) fn time(text: &str) -> Result<DateTime<Utc>, String> {
    if text == "now" {
        return Ok(Utc::now());
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Some(midnight) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
    {
        return Ok(midnight.and_utc());
    }
    duration(text)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .ok_or_else(|| {
            format!("`{text}` is not a time: give RFC 3339 (2026-11-30T12:00:00Z), a date (2026-11-30), `now`, or an age such as 90d or 12h")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_or_mean_seconds() {
        let seconds = |text| duration(text).map(|d| d.num_seconds());
        assert_eq!(seconds("90d"), Ok(7_776_000));
        assert_eq!(seconds("12h"), Ok(43_200));
        assert_eq!(seconds("2w"), Ok(1_209_600));
        assert_eq!(seconds("45"), Ok(45));
        for bad in ["", "0d", "d", "-5d", "5y", "1.5h", "99999999999999999999d"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_are_rfc_3339_dates_or_ages() {
        assert_eq!(
            time("2026-11-30T12:00:00+01:00").map(|t| t.to_rfc3339()),
            Ok("2026-11-30T11:00:00+00:00".to_string())
        );
        assert_eq!(time("2026-11-30").map(|t| t.timestamp()), Ok(1_795_996_800));
        let ago = Utc::now() - time("12h").unwrap_or_default();
        assert!((ago.num_seconds() - 43_200).abs() <= 1, "{ago}");
        assert_eq!(
            time("yesterday"),
            Err("`yesterday` is not a time: give RFC 3339 (2026-11-30T12:00:00Z), a date (2026-11-30), `now`, or an age such as 90d or 12h".to_string())
        );
    }
}
