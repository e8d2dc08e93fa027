//! Dates, date-times and durations in defaults, read as seconds (types `D`, `T`, `DURATION`).
//!
//! A schema's identity must not depend on the day it was parsed, so the forms of §1.4 that
//! are relative to "now" (`+1h`, `m/d` in the current year) are refused in defaults; object
//! values may accept them later, when they are validated against a clock. All times are UTC.

/// Epoch seconds of a `D` default: `d/m/yyyy`, `yyyy/m/d`, `yyyy-mm-dd`, or epoch seconds.
pub(crate) fn parse_date(text: &str) -> Result<i64, String> {
    if let Some(secs) = epoch(text)? {
        return Ok(secs);
    }
    let days = parse_day(text)?;
    in_u32(days * 86_400)
}

/// Epoch seconds of a `T` default: a date as for `D`, then ` ` or `T` and `hh:mm[:ss]`.
pub(crate) fn parse_datetime(text: &str) -> Result<i64, String> {
    if let Some(secs) = epoch(text)? {
        return Ok(secs);
    }
    let (day, clock) = match text.split_once([' ', 'T']) {
        Some((day, clock)) => (day, Some(clock.trim())),
        None => (text, None),
    };
    let mut secs = parse_day(day)? * 86_400;
    if let Some(clock) = clock {
        secs += parse_clock(clock)?;
    }
    in_u32(secs)
}

/// Seconds of a `DURATION` default: a number with an optional unit `s`, `m`, `h`, `d` or `w`.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let (digits, unit) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&text[..at], Some(c.to_ascii_lowercase())),
        _ => (text, None),
    };
    let n =
        digits_value(digits).ok_or("expected a number with an optional unit s, m, h, d or w")?;
    let factor = match unit {
        None | Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3_600,
        Some('d') => 86_400,
        Some('w') => 604_800,
        Some(other) => return Err(format!("unknown unit {other:?} (s, m, h, d or w)")),
    };
    in_u32(n.checked_mul(factor).ok_or("too long")?)
}

fn epoch(text: &str) -> Result<Option<i64>, String> {
    if text.starts_with('+') || text.starts_with('-') {
        return Err("relative times depend on the parse time and are not allowed here".into());
    }
    match digits_value(text) {
        Some(n) => in_u32(n).map(Some),
        None => Ok(None),
    }
}

fn digits_value(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn in_u32(secs: i64) -> Result<i64, String> {
    if (0..=i64::from(u32::MAX)).contains(&secs) {
        Ok(secs)
    } else {
        Err("outside 1970-01-01 .. 2106-02-07 (32-bit epoch seconds)".into())
    }
}

/// Days since 1970-01-01 of a calendar date.
fn parse_day(text: &str) -> Result<i64, String> {
    let parts: Vec<&str> = text.split(['/', '-']).collect();
    let [a, b, c] = parts[..] else {
        if parts.len() == 2 {
            return Err("m/d depends on the current year and is not allowed here".into());
        }
        return Err("expected d/m/yyyy, yyyy/m/d or yyyy-mm-dd".into());
    };
    let (year, month, day) = if a.len() == 4 {
        (a, b, c)
    } else if c.len() == 4 {
        (c, b, a)
    } else {
        return Err("the year needs four digits".into());
    };
    let number = |s: &str| digits_value(s).ok_or_else(|| format!("{s:?} is not a number"));
    let (year, month, day) = (number(year)?, number(month)?, number(day)?);
    if !(1..=12).contains(&month) {
        return Err(format!("month {month}"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(format!("day {day} of month {month}"));
    }
    Ok(days_from_civil(year, month, day))
}

fn parse_clock(text: &str) -> Result<i64, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (h, m, s) = match parts[..] {
        [h, m] => (h, m, "0"),
        [h, m, s] => (h, m, s),
        _ => return Err("expected hh:mm or hh:mm:ss".into()),
    };
    let number = |s: &str, max: i64| {
        digits_value(s)
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("{s:?} is not a time of day"))
    };
    Ok(number(h, 23)? * 3_600 + number(m, 59)? * 60 + number(s, 59)?)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: exact for the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1/1/1970"), Ok(0));
        assert_eq!(parse_date("2020/2/29"), Ok(1_582_934_400));
        assert_eq!(parse_date("29/2/2020"), Ok(1_582_934_400));
        assert_eq!(parse_date("2020-02-29"), Ok(1_582_934_400));
        assert_eq!(parse_date("1582934400"), Ok(1_582_934_400));
        assert!(parse_date("29/2/2021").is_err());
        assert!(parse_date("2/3").is_err());
        assert!(parse_date("+1h").is_err());
        assert!(parse_date("1/1/1969").is_err());
    }

    #[test]
    fn datetimes_and_durations() {
        assert_eq!(parse_datetime("1970-01-02 01:02:03"), Ok(86_400 + 3_723));
        assert_eq!(parse_datetime("1970-01-01T00:01"), Ok(60));
        assert!(parse_datetime("1970-01-01 24:00").is_err());
        assert_eq!(parse_duration("1w"), Ok(604_800));
        assert_eq!(parse_duration("3h"), Ok(10_800));
        assert_eq!(parse_duration("4m"), Ok(240));
        assert_eq!(parse_duration("5"), Ok(5));
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("h").is_err());
    }
}
