//! Writing the conf.json `strata stream` reads: what nixpkgs' `streamLayeredImage` conf
//! derivation does with `date`, `tar`, `jq` and shell, as plain functions.
//!
//! - [`iso_date`]: `date -Iseconds -d VALUE` as run in the Nix sandbox (no `TZ`, so UTC):
//!   the instant re-printed as `YYYY-MM-DDTHH:MM:SS+00:00`; `"now"` is kept as is.
//! - [`base_layer_count`]: `tar -xOf fromImage manifest.json | jq '.[0].Layers | length'`,
//!   the archive plain, gzip or zstd (told by magic bytes).
//! - [`jq_pretty`]: jq 1.6's default output (2-space indent, its string escapes and
//!   number printing), so the file is byte-identical to the one nixpkgs writes.
//! - [`assemble`]: `baseJson + {store_dir, from_image, store_layers, customisation_layer,
//!   repo_tag, created, mtime, uid, gid, uname, gname}` in that key order.
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

use crate::time::{civil_from_days, days_from_civil, days_in_month};
use crate::{Error, Result};

/// The fields `assemble` adds to the base JSON, already in their final form.
#[derive(Debug, Clone)]
pub struct ConfFields {
    /// `store_dir`.
    pub store_dir: String,
    /// `from_image` (null when absent).
    pub from_image: Option<String>,
    /// `store_layers`.
    pub store_layers: Vec<Vec<String>>,
    /// `customisation_layer`.
    pub customisation_layer: String,
    /// `repo_tag` (`lower(name):tag`).
    pub repo_tag: String,
    /// `created`, as `date -Iseconds` printed it (or `now`).
    pub created: String,
    /// `mtime`, likewise.
    pub mtime: String,
    /// `uid`, a string as nixpkgs writes it.
    pub uid: String,
    /// `gid`, a string.
    pub gid: String,
    /// `uname`.
    pub uname: String,
    /// `gname`.
    pub gname: String,
}

/// `base + fields` with jq's `+` semantics: base keys keep their place, the new keys follow
/// in nixpkgs' order (a key already in base keeps its place and takes the new value).
pub fn assemble(base: Map<String, Value>, f: ConfFields) -> Value {
    let mut out = base;
    let layers = Value::Array(
        f.store_layers
            .into_iter()
            .map(|l| Value::Array(l.into_iter().map(Value::String).collect()))
            .collect(),
    );
    let pairs: [(&str, Value); 11] = [
        ("store_dir", Value::String(f.store_dir)),
        (
            "from_image",
            f.from_image.map_or(Value::Null, Value::String),
        ),
        ("store_layers", layers),
        ("customisation_layer", Value::String(f.customisation_layer)),
        ("repo_tag", Value::String(f.repo_tag)),
        ("created", Value::String(f.created)),
        ("mtime", Value::String(f.mtime)),
        ("uid", Value::String(f.uid)),
        ("gid", Value::String(f.gid)),
        ("uname", Value::String(f.uname)),
        ("gname", Value::String(f.gname)),
    ];
    for (k, v) in pairs {
        out.insert(k.to_string(), v);
    }
    Value::Object(out)
}

/// jq 1.6's pretty output of `v`, with the trailing newline jq prints.
pub fn jq_pretty(v: &Value) -> String {
    let mut s = String::new();
    write_value(v, 0, &mut s);
    s.push('\n');
    s
}

fn write_value(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&jq_number(&n.to_string())),
        Value::String(s) => write_string(s, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                pad(indent + 2, out);
                write_value(item, indent + 2, out);
            }
            out.push('\n');
            pad(indent, out);
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("{\n");
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                pad(indent + 2, out);
                write_string(k, out);
                out.push_str(": ");
                write_value(item, indent + 2, out);
            }
            out.push('\n');
            pad(indent, out);
            out.push('}');
        }
    }
}

fn pad(n: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// jq's string escapes: `"` `\` and `\b \f \n \r \t`, other controls and DEL as `\u00XX`,
/// everything else (non-ASCII included) raw.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON number as jq 1.6 prints it: converted to a double, printed with the shortest
/// digits that read back, in exponent form when the decimal point is 4+ places left of
/// the digits or more than 15 places right of them (`1e+17`, `1e-05`, `0.0001`).
pub fn jq_number(text: &str) -> String {
    let x: f64 = match text.parse::<f64>() {
        Ok(x) if x.is_finite() => x,
        Ok(x) if x.is_sign_negative() => -f64::MAX,
        _ => f64::MAX,
    };
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:e}", x.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let nd = digits.len() as i32;
    let decpt = exp + 1;
    let mut out = String::new();
    if x < 0.0 {
        out.push('-');
    }
    if decpt <= -4 || decpt > nd + 15 {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        pad_zeros(-decpt, &mut out);
        out.push_str(&digits);
    } else if nd <= decpt {
        out.push_str(&digits);
        pad_zeros(decpt - nd, &mut out);
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
    out
}

fn pad_zeros(n: i32, out: &mut String) {
    out.extend(std::iter::repeat_n('0', n.max(0) as usize));
}

/// `date -Iseconds -d VALUE` with `TZ` unset (as in the Nix sandbox); `now` is kept.
///
/// Accepted (what dockerTools users pass): `YYYY-MM-DD`, optionally followed by `T` or a
/// space and `HH:MM[:SS[.fraction]]`, optionally followed by a zone (`Z`, `UTC`, `GMT`,
/// `±HH`, `±HHMM`, `±HH:MM`, a space before it allowed); or `@SECONDS`. No zone means
/// UTC. Fractions are dropped, as `date -Iseconds` does. Anything else is an error
/// naming `what` (GNU date reads more free-form text; it is not guessed at here).
pub fn iso_date(value: &str, what: &str) -> Result<String> {
    if value == "now" {
        return Ok(value.to_string());
    }
    let secs = parse_date(value.trim()).ok_or_else(|| {
        Error::Usage(format!(
            "{what}: cannot read {value:?} as a date (expected YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM], \
             @SECONDS or \"now\")"
        ))
    })?;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    Ok(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

fn parse_date(s: &str) -> Option<i64> {
    if let Some(epoch) = s.strip_prefix('@') {
        return epoch.parse().ok();
    }
    // GNU date reads `YYYYMMDD` (alone or before a space and a time) as an ISO date, e.g.
    // `builtins.substring 0 8 self.lastModifiedDate`. (`YYYYMMDDT…` it reads with `T` as
    // a military time zone; that is not imitated.)
    let b = s.as_bytes();
    if b.len() >= 8 && b[..8].iter().all(u8::is_ascii_digit) && (b.len() == 8 || b[8] == b' ') {
        let dashed = format!("{}-{}-{}{}", &s[..4], &s[4..6], &s[6..8], &s[8..]);
        let dashed = if dashed.len() > 10 {
            format!("{}T{}", &dashed[..10], dashed[11..].trim_start())
        } else {
            dashed
        };
        return parse_date(&dashed);
    }
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !(1..=12).contains(&mo) || d < 1 || d > i64::from(days_in_month(y, mo as u32)) {
        return None;
    }
    let mut secs = days_from_civil(y, mo as u32, d as u32) * 86_400;
    let mut rest = &s[10..];
    if let Some(t) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) {
        let tb = t.as_bytes();
        if tb.len() >= 5 && tb[2] == b':' && tb[..2].iter().all(u8::is_ascii_digit) {
            let h: i64 = t[..2].parse().ok()?;
            let mi: i64 = t.get(3..5)?.parse().ok()?;
            let mut used = 5;
            let mut sec = 0;
            if tb.len() >= 8 && tb[5] == b':' {
                sec = t.get(6..8)?.parse().ok()?;
                used = 8;
                if tb.get(8) == Some(&b'.') {
                    used = 9 + tb[9..].iter().take_while(|c| c.is_ascii_digit()).count();
                }
            }
            if h > 23 || mi > 59 || sec > 59 {
                return None;
            }
            secs += h * 3600 + mi * 60 + sec;
            rest = &t[used..];
        } else {
            rest = t;
        }
    }
    let zone = rest.trim_start();
    let offset = match zone {
        "" | "Z" | "z" | "UTC" | "GMT" => 0,
        _ => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = zone[1..].replace(':', "");
            if !z.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = match z.len() {
                2 => (z.parse().ok()?, 0),
                4 => (z[..2].parse().ok()?, z[2..].parse().ok()?),
                _ => return None,
            };
            if h > 24 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    Some(secs - offset)
}

/// The number of layers of a base image archive: `.[0].Layers | length` of its
/// `manifest.json`. Plain tar, gzip or zstd, told by the first bytes.
pub fn base_layer_count(archive: &Path) -> Result<usize> {
    // The same reader `strata stream` uses, so `conf` refuses exactly the archives that
    // `stream` would refuse later.
    Ok(crate::base::load(archive)?.layers.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_jq_1_6() {
        // Expected values are what jq 1.6 printed for each input.
        for (input, jq) in [
            ("1e17", "1e+17"),
            ("1e16", "1e+16"),
            ("1e15", "1000000000000000"),
            ("123456789012345678", "123456789012345680"),
            ("12345678901234567", "12345678901234568"),
            ("1.5", "1.5"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("1.0", "1"),
            ("-0", "-0"),
            ("1e300", "1e+300"),
            ("3.14159265358979323", "3.141592653589793"),
            ("1.25e-3", "0.00125"),
            ("-1.5e20", "-1.5e+20"),
            ("2e-7", "2e-07"),
            ("123e5", "12300000"),
            ("100", "100"),
        ] {
            assert_eq!(jq_number(input), jq, "{input}");
        }
    }

    #[test]
    fn dates_as_gnu_date_in_utc() {
        // Expected values are what `TZ= date -Iseconds -d VALUE` printed.
        for (input, date) in [
            ("1970-01-01T00:00:01Z", "1970-01-01T00:00:01+00:00"),
            ("2024-02-29 13:14:15+02:00", "2024-02-29T11:14:15+00:00"),
            ("2024-03-01", "2024-03-01T00:00:00+00:00"),
            ("@86400", "1970-01-02T00:00:00+00:00"),
            ("2024-03-01T10:00:00.987Z", "2024-03-01T10:00:00+00:00"),
            ("2024-03-01T10:00", "2024-03-01T10:00:00+00:00"),
            ("2024-03-01 10:00:00 UTC", "2024-03-01T10:00:00+00:00"),
            ("2024-03-01T10:00:00-0130", "2024-03-01T11:30:00+00:00"),
            ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59+00:00"),
            ("20240101", "2024-01-01T00:00:00+00:00"),
            ("20240101 10:00:00", "2024-01-01T10:00:00+00:00"),
        ] {
            assert_eq!(iso_date(input, "t").unwrap(), date, "{input}");
        }
        assert_eq!(iso_date("now", "t").unwrap(), "now");
        for bad in ["yesterday", "2024-02-30", "2024-13-01", "2024-01-01T25:00"] {
            assert!(iso_date(bad, "t").is_err(), "{bad}");
        }
    }

    #[test]
    fn strings_as_jq() {
        let v = Value::String("\u{7f}\u{1}é\u{2028}\"\\\n/".into());
        assert_eq!(jq_pretty(&v), "\"\\u007f\\u0001é\u{2028}\\\"\\\\\\n/\"\n");
    }
}
