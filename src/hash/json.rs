//! Canonical JSON text, for string columns compared with the `json` option: object members
//! sorted by key, numbers by value (`1`, `1.0` and `1e0` are one number), strings with one
//! escaping, no white space between tokens. Text that is not JSON gets no canonical form: it is
//! compared as it is, and so equals only the very same text (never a canonical form, which is
//! always JSON).

use arrow::datatypes::i256;

/// Nesting deeper than this is not canonicalized (hostile input must not exhaust the stack).
const MAX_DEPTH: usize = 256;

/// The canonical form of `text`, or `None` when it is not one JSON value.
pub(super) fn canonical(text: &str) -> Option<String> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        text,
        at: 0,
    };
    let mut out = String::with_capacity(text.len());
    p.value(&mut out, 0)?;
    p.space();
    (p.at == p.bytes.len()).then_some(out)
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.space();
        let hit = self.bytes.get(self.at) == Some(&b);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn value(&mut self, out: &mut String, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.space();
        match self.bytes.get(self.at)? {
            b'{' => self.object(out, depth),
            b'[' => self.array(out, depth),
            b'"' => {
                out.push_str(&self.string()?);
                Some(())
            }
            b't' => self.literal("true", out),
            b'f' => self.literal("false", out),
            b'n' => self.literal("null", out),
            _ => self.number(out),
        }
    }

    fn literal(&mut self, word: &str, out: &mut String) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then_some(())?;
        self.at = end;
        out.push_str(word);
        Some(())
    }

    /// A string token, decoded and encoded again (one escaping for one text).
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        self.at += 1;
        loop {
            match self.bytes.get(self.at)? {
                b'"' => break,
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
        self.at += 1;
        let decoded: String = serde_json::from_str(self.text.get(start..self.at)?).ok()?;
        serde_json::to_string(&decoded).ok()
    }

    fn number(&mut self, out: &mut String) -> Option<()> {
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.at += 1;
        }
        let token = self.text.get(start..self.at)?;
        let (mantissa, exp) = match token.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().ok()?),
            None => (token, 0),
        };
        let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let unsigned = mantissa.strip_prefix('-').unwrap_or(mantissa);
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
        if !digits_ok(int) || !digits_ok(frac) {
            return None;
        }
        match number_text(mantissa, exp) {
            Some(text) => out.push_str(&text),
            // Past 76 digits: the token as written (lowercase exponent).
            None => out.push_str(&token.to_lowercase()),
        }
        Some(())
    }

    fn array(&mut self, out: &mut String, depth: usize) -> Option<()> {
        self.at += 1;
        out.push('[');
        if !self.eat(b']') {
            loop {
                self.value(out, depth + 1)?;
                if self.eat(b']') {
                    break;
                }
                self.eat(b',').then_some(())?;
                out.push(',');
            }
        }
        out.push(']');
        Some(())
    }

    fn object(&mut self, out: &mut String, depth: usize) -> Option<()> {
        self.at += 1;
        let mut members: Vec<(String, String)> = Vec::new();
        if !self.eat(b'}') {
            loop {
                self.space();
                (self.bytes.get(self.at) == Some(&b'"')).then_some(())?;
                let key = self.string()?;
                self.eat(b':').then_some(())?;
                let mut value = String::new();
                self.value(&mut value, depth + 1)?;
                members.push((key, value));
                if self.eat(b'}') {
                    break;
                }
                self.eat(b',').then_some(())?;
            }
        }
        members.sort();
        out.push('{');
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push(':');
            out.push_str(v);
        }
        out.push('}');
        Some(())
    }
}

/// A JSON number's value as plain decimal text without trailing zeros (`2.50e1` -> `25`), or
/// `None` past 76 digits.
fn number_text(mantissa: &str, exp: i32) -> Option<String> {
    let ten = i256::from_i128(10);
    let (mut m, scale) = crate::decimal::parse_decimal_i256(mantissa)?;
    if m == i256::ZERO {
        return Some("0".into());
    }
    let mut s = scale.checked_sub(exp).filter(|s| s.abs() <= 76)?;
    while s > 0 && m.wrapping_rem(ten) == i256::ZERO {
        m = m.wrapping_div(ten);
        s -= 1;
    }
    while s < 0 {
        m = m.checked_mul(ten)?;
        s += 1;
    }
    let sign = if m.is_negative() { "-" } else { "" };
    let digits = m.checked_abs()?.to_string();
    let s = usize::try_from(s).ok()?;
    if s == 0 {
        return Some(format!("{sign}{digits}"));
    }
    let padded = format!(
        "{}{digits}",
        "0".repeat((s + 1).saturating_sub(digits.len()))
    );
    let (int, frac) = padded.split_at(padded.len() - s);
    Some(format!("{sign}{int}.{frac}"))
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn key_order_white_space_and_number_forms_are_not_data() {
        let a = canonical(r#"{"b": [1, 2.50, {"y": null, "x": true}], "a": "\u00e9"}"#);
        let b = canonical(r#"{"a":"é","b":[1.0,25e-1,{"x":true,"y":null}]}"#);
        assert_eq!(a, b);
        assert_eq!(
            a.as_deref(),
            Some(r#"{"a":"é","b":[1,2.5,{"x":true,"y":null}]}"#)
        );
        assert_ne!(
            canonical("[1,2]"),
            canonical("[2,1]"),
            "array order is data"
        );
        assert_ne!(canonical(r#"{"a":1}"#), canonical(r#"{"a":"1"}"#));
        assert_eq!(canonical("-0"), canonical("0"));
        assert_eq!(canonical("-0.0120e2").as_deref(), Some("-1.2"));
        assert_eq!(canonical("5e-3").as_deref(), Some("0.005"));
        assert_eq!(canonical("1.5E3").as_deref(), Some("1500"));
        assert_eq!(
            canonical("12345678901234567890123"),
            Some("12345678901234567890123".into())
        );
        assert_ne!(
            canonical("12345678901234567890123"),
            canonical("12345678901234567890124")
        );
    }

    #[test]
    fn text_that_is_not_json_has_no_canonical_form() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "tru",
            "1 2",
            "01x",
            "\"open",
            "{\"a\":1,}",
            "1.",
            ".5",
        ] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
        let deep = "[".repeat(10_000);
        assert_eq!(canonical(&deep), None);
    }
}
