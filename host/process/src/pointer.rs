//! JSON pointers (RFC 6901): building them, splitting them, and rendering them as the
//! dotted field names users read in diagnostics (`steps[2].write_file.directory`).

use serde_json::Value;

/// Appends one reference token to `pointer`, escaping `~` and `/` as RFC 6901 requires.
pub(crate) fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// `pointer` with one more token.
pub(crate) fn join(pointer: &str, token: &str) -> String {
    let mut p = String::with_capacity(pointer.len() + token.len() + 1);
    p.push_str(pointer);
    push_token(&mut p, token);
    p
}

/// The unescaped reference tokens of a pointer. A pointer that does not start with `/`
/// (plugins may hand us `methods/1` or `/methods/1`) is read as if it did.
pub(crate) fn tokens(pointer: &str) -> impl Iterator<Item = String> + '_ {
    let trimmed = pointer.strip_prefix('/').unwrap_or(pointer);
    trimmed
        .split('/')
        .filter(move |_| !trimmed.is_empty())
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
}

/// Normalises a pointer handed to us from outside: empty stays empty, otherwise it starts with `/`.
pub(crate) fn normalize(pointer: &str) -> String {
    if pointer.is_empty() || pointer.starts_with('/') {
        pointer.to_string()
    } else {
        format!("/{pointer}")
    }
}

/// The pointer one level up, or `None` for the root.
pub(crate) fn parent(pointer: &str) -> Option<&str> {
    pointer.rfind('/').map(|i| &pointer[..i])
}

/// Renders a pointer as `a.b[2].c`. Array indices are recognised by walking `value`, so that a
/// mapping key made of digits still renders as `.123`; where the walk leaves the document (a
/// missing field), an all-digit token is taken as an index.
pub(crate) fn render_field(value: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut current = Some(value);
    for token in tokens(pointer) {
        let index = token.parse::<usize>().ok();
        let is_index = match current {
            Some(Value::Array(_)) => index.is_some(),
            Some(_) => false,
            None => index.is_some(),
        };
        if is_index {
            out.push('[');
            out.push_str(&token);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
        current = match current {
            Some(Value::Array(items)) => index.and_then(|i| items.get(i)),
            Some(Value::Object(map)) => map.get(&token),
            _ => None,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_and_splits() {
        let p = join("/a", "x/y~z");
        assert_eq!(p, "/a/x~1y~0z");
        assert_eq!(tokens(&p).collect::<Vec<_>>(), vec!["a", "x/y~z"]);
        assert_eq!(tokens("").count(), 0);
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some(""));
        assert_eq!(parent(""), None);
        assert_eq!(normalize("a/1"), "/a/1");
    }

    #[test]
    fn renders_fields() {
        let v = json!({"steps": [{}, {}, {"write_file": {}}], "map": {"12": 1}});
        assert_eq!(
            render_field(&v, "/steps/2/write_file/directory"),
            "steps[2].write_file.directory"
        );
        assert_eq!(render_field(&v, "/map/12"), "map.12");
        assert_eq!(render_field(&v, "/missing/3/x"), "missing[3].x");
        assert_eq!(render_field(&v, ""), "");
    }
}
