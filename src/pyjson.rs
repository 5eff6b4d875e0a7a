//! Python-compatible text: `json.dumps(obj, indent=4)` and `repr()` of a list of strings.
//!
//! Written by hand because byte-compatibility forces it: the image config's bytes are the
//! image ID, and nixpkgs produces them with CPython's `json.dumps(…, indent=4)`
//! (ensure_ascii, `","` item separator at line ends, `": "` after keys, floats printed as
//! Python's `repr`), and the history comments with Python's list `repr`. No JSON crate
//! prints exactly this.
use serde_json::Value;
use std::fmt::Write as _;

/// Serialises `value` as CPython's `json.dumps(value, indent=4)` does (no trailing newline).
pub fn dumps_indent4(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn newline_indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, &n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(out, level + 1);
                write_value(out, item, level + 1);
            }
            newline_indent(out, level);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(out, level + 1);
                write_string(out, k);
                out.push_str(": ");
                write_value(out, v, level + 1);
            }
            newline_indent(out, level);
            out.push('}');
        }
    }
}

/// Python's `json.loads` makes an `int` of a number without fraction or exponent and a
/// `float` of any other; `dumps` prints the int in full and the float as `float.__repr__`.
fn write_number(out: &mut String, text: &str) {
    if text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        match text.parse::<f64>() {
            Ok(f) => out.push_str(&float_repr(f)),
            Err(_) => out.push_str(text),
        }
    } else {
        // An integer: strip a sign from zero (`-0` is `0` in Python).
        let digits = text.trim_start_matches('-');
        if digits.bytes().all(|b| b == b'0') {
            out.push('0');
        } else {
            out.push_str(text);
        }
    }
}

/// `float.__repr__`: the shortest round-tripping digits, in fixed notation when the decimal
/// exponent is in -4..16, else `d.ddde+XX`; `json.dumps` spells the infinities `Infinity`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: `-1.2345e-7`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut s = String::from(sign);
    if (-4..16).contains(&exp) {
        if exp < 0 {
            s.push_str("0.");
            for _ in 0..(-exp - 1) {
                s.push('0');
            }
            s.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                s.push_str(&digits);
                for _ in digits.len()..int_len {
                    s.push('0');
                }
                s.push_str(".0");
            } else {
                s.push_str(&digits[..int_len]);
                s.push('.');
                s.push_str(&digits[int_len..]);
            }
        }
    } else {
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let _ = write!(s, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    s
}

/// A JSON string as `json.dumps` with `ensure_ascii=True` writes it.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr()` of a list of strings: `['a', 'b']`.
pub fn repr_str_list<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        repr_str(&mut out, item.as_ref());
    }
    out.push(']');
    out
}

/// Python's `str.__repr__`: single quotes unless the text holds `'` and no `"`;
/// backslash escapes for `\\`, the quote, `\t \n \r`, and `\xNN`/`\uNNNN` for
/// non-printable characters (control characters, surrogates, separators).
fn repr_str(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !crate::printable::is_printable(c) => {
                let n = c as u32;
                if n < 0x100 {
                    let _ = write!(out, "\\x{n:02x}");
                } else if n < 0x10000 {
                    let _ = write!(out, "\\u{n:04x}");
                } else {
                    let _ = write!(out, "\\U{n:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        // Values printed by CPython 3.11's repr().
        for (f, want) in [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345.6, "123456789012345.6"),
            (1e300, "1e+300"),
            (-2.5e-7, "-2.5e-07"),
            (100.0, "100.0"),
        ] {
            assert_eq!(float_repr(f), want, "repr({f})");
        }
    }

    #[test]
    fn dumps_matches_python_layout() {
        let v: Value =
            serde_json::from_str(r#"{"a":[1,{"b":{}},[]],"ü":"x\"y\u0001\u007f","n":-0,"f":1E2}"#)
                .unwrap();
        // As printed by CPython 3.11: json.dumps(json.loads(...), indent=4)
        let want = "{\n    \"a\": [\n        1,\n        {\n            \"b\": {}\n        },\n        []\n    ],\n    \"\\u00fc\": \"x\\\"y\\u0001\\u007f\",\n    \"n\": 0,\n    \"f\": 100.0\n}";
        assert_eq!(dumps_indent4(&v), want);
    }

    #[test]
    fn repr_escapes_what_python_cannot_print() {
        // CPython 3.11: repr(['\u0378', '\u00e9', '\x85', '\U000e0001', '\ud83d'...])
        assert_eq!(
            repr_str_list(&["\u{378}é\u{85}\u{e0001}😀"]),
            r"['\u0378é\x85\U000e0001😀']"
        );
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(
            repr_str_list(&["a", "it's", "x\"'y"]),
            r#"['a', "it's", 'x"\'y']"#
        );
        assert_eq!(repr_str_list::<&str>(&[]), "[]");
    }
}
