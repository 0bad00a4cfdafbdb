//! Durations written as strings in options: `"90s"`, `"10m"`, `"1h30m"`, `"2d"`, `"500ms"`.

use std::time::Duration;

/// Parse `text`, or say what is wrong with it.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    const HOW: &str =
        "write it as numbers with units, like \"90s\", \"10m\", \"1h30m\", \"2d\" or \"500ms\"";
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("an empty duration: {HOW}"));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!("bad duration {text:?}: {HOW}"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("bad duration {text:?}: the number is too large"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let (unit, after) = rest.split_at(unit_len);
        let millis_per: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "bad duration {text:?}: {number} has no unit; {HOW}"
                ))
            }
            other => {
                return Err(format!(
                    "bad duration {text:?}: unknown unit {other:?}; {HOW}"
                ))
            }
        };
        let part = number
            .checked_mul(millis_per)
            .ok_or_else(|| format!("bad duration {text:?}: too long"))?;
        total = total
            .checked_add(Duration::from_millis(part))
            .ok_or_else(|| format!("bad duration {text:?}: too long"))?;
        rest = after.trim_start();
    }
    if total.is_zero() {
        return Err(format!(
            "bad duration {text:?}: it must be longer than zero"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_add_up() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1h 5s"), Ok(Duration::from_secs(3605)));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("10").unwrap_err().contains("10 has no unit"));
        assert!(parse("5 minutes")
            .unwrap_err()
            .contains("unknown unit \"minutes\""));
        assert!(parse("h").unwrap_err().contains("bad duration \"h\""));
        assert!(parse("0s").unwrap_err().contains("longer than zero"));
        assert!(parse("99999999999999999999s")
            .unwrap_err()
            .contains("too large"));
        assert!(parse("999999999999999d").unwrap_err().contains("too long"));
    }
}
