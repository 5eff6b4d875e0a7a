//! Date-times as the conf gives them: ISO 8601 as Python 3.11's `datetime.fromisoformat`
//! reads it (`Z` or an offset, optional fraction), or `"now"`; printed back as
//! `datetime.isoformat()` prints it, and converted to POSIX seconds as `int(dt.timestamp())`.
//!
//! A value without an offset is taken as UTC (Python would use the machine's time zone;
//! strata's output must not depend on it). nixpkgs always writes an offset.
use std::fmt::Write as _;

/// A calendar date-time with an optional UTC offset, microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micro: u32,
    /// Offset from UTC in microseconds, or None for a naive value.
    offset_us: Option<i64>,
}

impl DateTime {
    /// The current instant, in UTC.
    pub fn now() -> DateTime {
        let us = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_micros() as i64,
            Err(e) => -(e.duration().as_micros() as i64),
        };
        DateTime::from_unix_micros(us)
    }

    /// The UTC date-time of a POSIX instant in microseconds.
    pub fn from_unix_micros(us: i64) -> DateTime {
        let secs = us.div_euclid(1_000_000);
        let micro = us.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            hour: (sod / 3600) as u32,
            minute: (sod / 60 % 60) as u32,
            second: (sod % 60) as u32,
            micro,
            offset_us: Some(0),
        }
    }

    /// `"now"` gives `now`; anything else is parsed as ISO 8601.
    pub fn parse_or_now(s: &str, now: &DateTime) -> Result<DateTime, String> {
        if s == "now" {
            Ok(*now)
        } else {
            DateTime::parse(s)
        }
    }

    /// Parses what `datetime.fromisoformat` (3.11) accepts: `YYYY-MM-DD` or `YYYYMMDD`,
    /// then optionally a separator (`T`, space, …) and `HH[:MM[:SS[.f…]]]` (or the basic
    /// `HHMMSS` form), then optionally `Z` or `±HH[:MM[:SS[.ffffff]]]`.
    pub fn parse(s: &str) -> Result<DateTime, String> {
        let bad = || {
            format!(
                "expected an ISO 8601 date-time such as 1970-01-01T00:00:01Z or \"now\", found {s:?}"
            )
        };
        let b = s.as_bytes();
        if !s.is_ascii() {
            return Err(bad());
        }
        let (date_len, year, month, day) = if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
            (10, num(&b[0..4]), num(&b[5..7]), num(&b[8..10]))
        } else if b.len() >= 8 && b[..8].iter().all(u8::is_ascii_digit) {
            (8, num(&b[0..4]), num(&b[4..6]), num(&b[6..8]))
        } else {
            return Err(bad());
        };
        let (Some(year), Some(month), Some(day)) = (year, month, day) else {
            return Err(bad());
        };
        let mut dt = DateTime {
            year: year as i64,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            micro: 0,
            offset_us: None,
        };
        if !(1..=9999).contains(&dt.year)
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(dt.year, month)
        {
            return Err(format!("{}: the date does not exist", bad()));
        }
        let rest = &b[date_len..];
        if rest.is_empty() {
            return Ok(dt);
        }
        // One separator character, then the time.
        let rest = &rest[1..];
        let tz_at = rest
            .iter()
            .position(|&c| c == b'Z' || c == b'+' || c == b'-')
            .unwrap_or(rest.len());
        let (time, tz) = rest.split_at(tz_at);
        let (h, m, sec, us) = parse_time(time).ok_or_else(bad)?;
        if h > 23 || m > 59 || sec > 59 {
            return Err(format!("{}: the time does not exist", bad()));
        }
        dt.hour = h;
        dt.minute = m;
        dt.second = sec;
        dt.micro = us;
        if !tz.is_empty() {
            dt.offset_us = Some(if tz == b"Z" {
                0
            } else {
                let sign = if tz[0] == b'-' { -1 } else { 1 };
                let (oh, om, os, ous) = parse_time(&tz[1..]).ok_or_else(bad)?;
                if oh > 23 || om > 59 || os > 59 {
                    return Err(format!("{}: the UTC offset does not exist", bad()));
                }
                sign * ((oh as i64 * 3600 + om as i64 * 60 + os as i64) * 1_000_000 + ous as i64)
            });
        }
        Ok(dt)
    }

    /// Microseconds since the epoch (a naive value is taken as UTC).
    pub fn unix_micros(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs =
            days * 86_400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64;
        secs * 1_000_000 + self.micro as i64 - self.offset_us.unwrap_or(0)
    }

    /// `int(dt.timestamp())`: whole seconds, truncated toward zero.
    pub fn timestamp_secs(&self) -> i64 {
        self.unix_micros() / 1_000_000
    }

    /// `datetime.isoformat()`: `YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM[:SS[.ffffff]]]`.
    pub fn isoformat(&self) -> String {
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.micro != 0 {
            let _ = write!(s, ".{:06}", self.micro);
        }
        if let Some(off) = self.offset_us {
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.unsigned_abs();
            let (secs, us) = (a / 1_000_000, a % 1_000_000);
            let _ = write!(s, "{sign}{:02}:{:02}", secs / 3600, secs / 60 % 60);
            if secs % 60 != 0 || us != 0 {
                let _ = write!(s, ":{:02}", secs % 60);
            }
            if us != 0 {
                let _ = write!(s, ".{us:06}");
            }
        }
        s
    }
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// `HH[:MM[:SS[(.|,)f…]]]` or `HH[MM[SS[(.|,)f…]]]`; the fraction keeps 6 digits.
fn parse_time(t: &[u8]) -> Option<(u32, u32, u32, u32)> {
    let (main, frac) = match t.iter().position(|&c| c == b'.' || c == b',') {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let parts: Vec<&[u8]> = if main.contains(&b':') {
        main.split(|&c| c == b':').collect()
    } else {
        main.chunks(2).collect()
    };
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let h = num(parts[0])?;
    let m = parts.get(1).map_or(Some(0), |p| num(p))?;
    let s = parts.get(2).map_or(Some(0), |p| num(p))?;
    let us = match frac {
        None => 0,
        Some(f) => {
            if parts.len() != 3 || f.is_empty() || !f.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let mut digits = [b'0'; 6];
            for (d, c) in digits.iter_mut().zip(f) {
                *d = *c;
            }
            num(&digits)?
        }
    };
    Some((h, m, s, us))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in a month of the proleptic Gregorian calendar.
pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_nixpkgs_writes() {
        let dt = DateTime::parse("1970-01-01T00:00:01+00:00").unwrap();
        assert_eq!(dt.timestamp_secs(), 1);
        assert_eq!(dt.isoformat(), "1970-01-01T00:00:01+00:00");
        let z = DateTime::parse("1970-01-01T00:00:01Z").unwrap();
        assert_eq!(z.isoformat(), "1970-01-01T00:00:01+00:00");
    }

    #[test]
    fn offsets_and_fractions_follow_python() {
        // Values from CPython 3.11: datetime.fromisoformat(s).isoformat(), int(.timestamp())
        let dt = DateTime::parse("2024-02-29T23:30:00.5-01:30").unwrap();
        assert_eq!(dt.isoformat(), "2024-02-29T23:30:00.500000-01:30");
        assert_eq!(dt.timestamp_secs(), 1709254800);
        let neg = DateTime::parse("1969-12-31T23:59:59.5+00:00").unwrap();
        assert_eq!(neg.timestamp_secs(), 0);
        assert_eq!(
            DateTime::parse("20240101").unwrap().isoformat(),
            "2024-01-01T00:00:00"
        );
    }

    #[test]
    fn rejects_nonsense() {
        for s in [
            "",
            "yesterday",
            "2024-13-01",
            "2023-02-29T00:00:00Z",
            "2024-01-01T25:00",
            "2024-01-01T00:00:00+xx",
        ] {
            assert!(DateTime::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn civil_round_trips() {
        for us in [0i64, 1, -1, 951_782_400_000_000, -62_135_596_800_000_000] {
            assert_eq!(DateTime::from_unix_micros(us).unix_micros(), us);
        }
    }
}
