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

    /// Parses what `datetime.fromisoformat` (CPython 3.11, its C implementation)
    /// accepts, following that algorithm step by step — including its leniencies (any
    /// one separator character; colons optional; trailing digits of a fraction dropped;
    /// some junk before an offset ignored). Checked against CPython on thousands of
    /// strings in `tests/it/oracle.rs`.
    pub fn parse(s: &str) -> Result<DateTime, String> {
        let bad = || {
            format!(
                "expected an ISO 8601 date-time such as 1970-01-01T00:00:01Z or \"now\", found {s:?}"
            )
        };
        if s.chars().count() < 7 {
            return Err(bad());
        }
        let c = CStr(s.as_bytes());
        let sep = c.find_separator().ok_or_else(bad)?;
        let (year, month, day) = c.parse_date(sep).ok_or_else(bad)?;
        let mut dt = DateTime {
            year,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            micro: 0,
            offset_us: None,
        };
        if c.len() > sep {
            // Skip the separator: one character, however many UTF-8 bytes.
            let lead = c.at(sep);
            let width = match lead {
                l if l & 0x80 == 0 => 1,
                l if l & 0xf0 == 0xe0 => 3,
                l if l & 0xf0 == 0xf0 => 4,
                _ => 2,
            };
            let (time, offset) = c.parse_time(sep + width).ok_or_else(bad)?;
            let [h, m, sec, us] = time;
            (dt.hour, dt.minute, dt.second, dt.micro) = (h, m, sec, us);
            dt.offset_us = offset;
        }
        let valid_date = (1..=9999).contains(&dt.year)
            && (1..=12).contains(&dt.month)
            && dt.day >= 1
            && dt.day <= days_in_month(dt.year, dt.month);
        if !valid_date || dt.hour > 23 || dt.minute > 59 || dt.second > 59 {
            return Err(format!("{}: no such date or time", bad()));
        }
        if dt.offset_us.is_some_and(|o| o.abs() >= 86_400_000_000) {
            return Err(format!("{}: the UTC offset is a day or more", bad()));
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

    /// `int(dt.timestamp())`: the instant as a float of seconds (as Python computes it,
    /// so 23:59:59.999999 may round up to the next second), truncated toward zero.
    pub fn timestamp_secs(&self) -> i64 {
        let us = self.unix_micros();
        let f = (us / 1_000_000) as f64 + (us % 1_000_000) as f64 / 1e6;
        f.trunc() as i64
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

/// A byte string read the way C reads a NUL-terminated one: past the end is NUL.
/// (CPython's parser reads a few bytes past the part it was given; this keeps that.)
struct CStr<'a>(&'a [u8]);

impl CStr<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn at(&self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// `parse_digits`: exactly `n` ASCII digits from `p`.
    fn digits(&self, p: usize, n: usize) -> Option<u32> {
        (p..p + n).try_fold(0u32, |v, i| {
            let d = self.at(i).wrapping_sub(b'0');
            (d <= 9).then(|| v * 10 + u32::from(d))
        })
    }

    /// `_find_isoformat_datetime_separator`: where the date part ends.
    fn find_separator(&self) -> Option<usize> {
        let len = self.len();
        if len == 7 {
            return Some(7);
        }
        if self.at(4) == b'-' {
            if self.at(5) == b'W' {
                if len > 8 && self.at(8) == b'-' {
                    if len == 9 {
                        return None;
                    }
                    if len > 10 && self.at(10).is_ascii_digit() {
                        return Some(8);
                    }
                    return Some(10);
                }
                return Some(8);
            }
            return Some(10);
        }
        if self.at(4) == b'W' {
            let mut idx = 7;
            while idx < len && self.at(idx).is_ascii_digit() {
                idx += 1;
            }
            if idx < 9 {
                return Some(idx);
            }
            return Some(if idx % 2 == 0 { 7 } else { 8 });
        }
        Some(8)
    }

    /// `parse_isoformat_date` over the first `len` bytes: `YYYY-MM-DD`, `YYYYMMDD`,
    /// `YYYY-Www[-D]`, `YYYYWww[D]`.
    fn parse_date(&self, len: usize) -> Option<(i64, u32, u32)> {
        let year = self.digits(0, 4)?;
        let uses_sep = self.at(4) == b'-';
        let mut p = 4 + usize::from(uses_sep);
        if self.at(p) == b'W' {
            p += 1;
            let week = self.digits(p, 2)?;
            p += 2;
            let mut day = 1;
            if p < len {
                if uses_sep {
                    if self.at(p) != b'-' {
                        return None;
                    }
                    p += 1;
                }
                day = self.digits(p, 1)?;
            }
            return iso_week_to_date(i64::from(year), week, day);
        }
        let month = self.digits(p, 2)?;
        p += 2;
        if uses_sep {
            if self.at(p) != b'-' {
                return None;
            }
            p += 1;
        }
        let day = self.digits(p, 2)?;
        Some((i64::from(year), month, day))
    }

    /// `parse_hh_mm_ss_ff` over `[start, end)`: `HH[:?MM[:?SS[{.,}f…]]]`. Returns
    /// whether something other than the end of the string follows, and the components.
    fn parse_hh_mm_ss_ff(&self, start: usize, end: usize) -> Option<(bool, [u32; 4])> {
        let mut comps = [0u32; 4];
        let mut p = start;
        let mut has_sep = true;
        for i in 0..3 {
            comps[i] = self.digits(p, 2)?;
            p += 2;
            let c = self.at(p);
            p += 1;
            if i == 0 {
                has_sep = c == b':';
            }
            if p >= end {
                return Some((c != 0, comps));
            } else if has_sep && c == b':' {
                continue;
            } else if c == b'.' || c == b',' {
                break;
            } else if !has_sep {
                p -= 1;
            } else {
                return None;
            }
        }
        let to_parse = (end - p).min(6);
        if to_parse == 0 {
            return None;
        }
        let mut us = self.digits(p, to_parse)?;
        p += to_parse;
        for _ in to_parse..6 {
            us *= 10;
        }
        comps[3] = us;
        while self.at(p).is_ascii_digit() {
            p += 1;
        }
        Some((self.at(p) != 0, comps))
    }

    /// `parse_isoformat_time` from `start` to the end: the time, then an optional
    /// offset (`Z`, or `±` and `HH[:MM[:SS[.f]]]`; a zero whole-second offset is UTC).
    fn parse_time(&self, start: usize) -> Option<([u32; 4], Option<i64>)> {
        let end = self.len();
        if start >= end {
            return None;
        }
        let mut tz = start;
        while tz < end && !matches!(self.at(tz), b'Z' | b'+' | b'-') {
            tz += 1;
        }
        let (junk, time) = self.parse_hh_mm_ss_ff(start, tz)?;
        if tz == end {
            return (!junk).then_some((time, None));
        }
        if self.at(tz) == b'Z' {
            return (self.at(tz + 1) == 0).then_some((time, Some(0)));
        }
        let sign: i64 = if self.at(tz) == b'-' { -1 } else { 1 };
        let (junk, [h, m, sec, us]) = self.parse_hh_mm_ss_ff(tz + 1, end)?;
        if junk {
            return None;
        }
        let secs = sign * (i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec));
        let offset = if secs == 0 {
            0
        } else {
            secs * 1_000_000 + sign * i64::from(us)
        };
        Some((time, Some(offset)))
    }
}

/// `iso_to_ymd`: week 1 is the one holding the year's first Thursday.
fn iso_week_to_date(year: i64, week: u32, day: u32) -> Option<(i64, u32, u32)> {
    // 1970-01-01 was a Thursday; weekday 0 = Monday.
    let jan1 = days_from_civil(year, 1, 1);
    let jan1_weekday = (jan1 + 3).rem_euclid(7);
    if !(1..=52).contains(&week) {
        let long_year = jan1_weekday == 3 || (jan1_weekday == 2 && is_leap(year));
        if !(week == 53 && long_year) {
            return None;
        }
    }
    if !(1..=7).contains(&day) {
        return None;
    }
    let week1_monday = if jan1_weekday <= 3 {
        jan1 - jan1_weekday
    } else {
        jan1 + 7 - jan1_weekday
    };
    Some(civil_from_days(
        week1_monday + (i64::from(week) - 1) * 7 + (i64::from(day) - 1),
    ))
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
