//! Helpers shared by the fuzz targets (included with `#[path]`, so each target stays one file).
#![allow(dead_code)]

/// Splits a fuzz input like an HTTP request after its request line: header lines
/// `Name: value` up to the first empty line (LF or CRLF), then the body.
///
/// The connectors get their headers from hyper, so only headers an HTTP/1 parser accepts are
/// kept: a token name, and a value without CR, LF or control characters other than tab
/// (obs-text, bytes 0x80-0xFF, is allowed), trimmed of spaces and tabs. Other lines are dropped.
pub fn split_request(data: &[u8]) -> (Vec<(String, Vec<u8>)>, &[u8]) {
    let (head, body) = match find_blank_line(data) {
        Some((head_end, body_start)) => (&data[..head_end], &data[body_start..]),
        None => (data, &data[data.len()..]),
    };
    (parse_head(head), body)
}

/// The header lines of `head`, filtered as in [`split_request`].
pub fn parse_head(head: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut headers = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim_ows(&line[colon + 1..]));
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            continue;
        }
        if !value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
        {
            continue;
        }
        // A token is ASCII, so this never replaces anything.
        let name = String::from_utf8_lossy(name).into_owned();
        headers.push((name, value.to_vec()));
    }
    headers
}

/// (end of the header block, start of the body) at the first empty line.
fn find_blank_line(data: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(off) = data[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        let rest = &data[nl + 1..];
        if rest.starts_with(b"\n") {
            return Some((nl, nl + 2));
        }
        if rest.starts_with(b"\r\n") {
            return Some((nl, nl + 3));
        }
        i = nl + 1;
    }
    None
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |p| p + 1);
    &v[start..end]
}

/// RFC 9110 token characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The promise of `berth_as2::headers::safe_filename`: one harmless path component.
pub fn check_safe_filename(input: &str, name: &str) {
    assert!(!name.is_empty(), "{input:?}: empty file name");
    assert!(
        !name.contains(['/', '\\']),
        "{input:?} -> {name:?}: directory separator"
    );
    assert!(
        !name.chars().any(char::is_control),
        "{input:?} -> {name:?}: control character"
    );
    assert!(!name.contains(".."), "{input:?} -> {name:?}: `..`");
    assert!(
        !name.starts_with('.'),
        "{input:?} -> {name:?}: leading dot (`.`, hidden file)"
    );
    assert_eq!(name, name.trim(), "{input:?}: surrounding blanks");
}
