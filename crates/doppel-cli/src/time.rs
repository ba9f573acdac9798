//! Times on the command line: `2026-11-20T10:00Z`, `2026-11-20T10:00:00+01:00`, `2026-11-20`.

use anyhow::{Result, bail};

/// Parses a time into milliseconds since the epoch.
pub fn parse_time(text: &str) -> Result<i64> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    // Minutes without seconds (2026-11-20T10:00Z): add them.
    if let Some(split) = text.find(['Z', 'z', '+']).or_else(|| text.rfind('-').filter(|&i| i > 10))
        && text[..split].matches(':').count() == 1
        && let Ok(ts) = format!("{}:00{}", &text[..split], &text[split..]).parse::<jiff::Timestamp>()
    {
        return Ok(ts.as_millisecond());
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && let Ok(zoned) = date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
    {
        return Ok(zoned.timestamp().as_millisecond());
    }
    bail!(crate::exit::Failure {
        code: 3,
        message: format!(
            "`{text}` is not a time: expected RFC 3339 with a zone, such as 2026-11-20T10:00Z or 2026-11-20T10:00:00+01:00, or a date such as 2026-11-20"
        ),
    })
}

/// The time now, milliseconds since the epoch.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Formats milliseconds since the epoch for tables: `2026-11-20 10:00:05Z`.
pub fn format_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
        Err(_) => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_forms_people_type() {
        let full = parse_time("2026-11-20T10:00:00Z").unwrap();
        assert_eq!(parse_time("2026-11-20T10:00Z").unwrap(), full);
        assert_eq!(parse_time("2026-11-20T11:00+01:00").unwrap(), full);
        assert_eq!(parse_time("2026-11-20").unwrap(), full - 10 * 3600 * 1000);
        assert!(parse_time("yesterday-ish").is_err());
        assert_eq!(format_ms(full), "2026-11-20 10:00:00Z");
    }
}
