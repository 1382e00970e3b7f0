//! Query strings into decoded name/value pairs (application/x-www-form-urlencoded rules): what
//! every HTTP-based connector, and the host's admin API, needs.

/// Split and decode `a=1&b=x%20y`. Pairs that do not decode to UTF-8 are kept lossily: the raw
/// query is also available to steps as `http.query`.
pub fn pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(name), decode(value))
    })
}

/// Decode one form-encoded component: `%XX` escapes and `+` for a space. A malformed escape is
/// kept as it is rather than refused: a query is data from a partner, not a reason to fail.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multibyte_character_after_a_percent_sign_is_kept() {
        assert_eq!(decode("%é%41"), "%éA");
    }

    #[test]
    fn decodes_pairs() {
        let got: Vec<_> = pairs("a=1&b=x%20y+z&flag&&bad=%zz&end=%4").collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("flag".into(), "".into()),
                ("bad".into(), "%zz".into()),
                ("end".into(), "%4".into()),
            ]
        );
    }
}
