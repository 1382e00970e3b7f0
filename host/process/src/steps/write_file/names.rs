//! Names for the `write_file` step: a file name and a folder from properties made safe, so
//! that a partner's property can never place a file outside the folder the process names; and
//! the numbered names of `if_exists: unique`.

use std::path::{Path, PathBuf};

/// Longest file name we produce, in bytes; leaves room under the usual 255-byte limit for the
/// `-N` that `unique` may add.
const MAX_NAME_BYTES: usize = 200;

/// Reduces `raw` (which may come from a partner's property) to one file name component that
/// cannot leave the target folder: separators, NUL and control characters become `_`, leading
/// dots and surrounding blanks are dropped (no `.`, `..` or hidden files, which also keeps final
/// names apart from our `.berth-*.tmp` temp files). A name with nothing but punctuation left is
/// refused rather than invented.
pub(super) fn sanitize_file_name(raw: &str) -> Result<String, String> {
    let replaced: String = raw
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c == '\0' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = replaced
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end();
    if !trimmed
        .chars()
        .any(|c| !matches!(c, '_' | '.' | '-') && !c.is_whitespace())
    {
        return Err(format!(
            "file name {raw:?} has nothing usable once made safe (path separators, dots and control characters are not kept)"
        ));
    }
    Ok(truncate(trimmed))
}

/// Shortens a long name, keeping a short extension so the file still opens with the right tool.
fn truncate(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_string();
    }
    let ext = match name.rfind('.') {
        Some(i) if name.len() - i <= 16 => &name[i..],
        _ => "",
    };
    let mut cut = MAX_NAME_BYTES - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &name[..cut])
}

/// `name` with `-n` before its extension (`a.edi` -> `a-2.edi`); `n == 0` is the name itself.
pub(super) fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_string();
    }
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{}-{n}{}", &name[..i], &name[i..]),
        _ => format!("{name}-{n}"),
    }
}

/// The folder a `write_file` step rendered, checked: properties may add folders below what the
/// process file wrote, never climb out of it (`..`), turn a relative folder absolute, or carry
/// a NUL byte.
pub(super) fn safe_directory(rendered: &str, absolute: bool) -> Result<PathBuf, String> {
    let path = Path::new(rendered);
    let climbs = path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    if rendered.trim().is_empty() || rendered.contains('\0') || climbs {
        return Err(format!(
            "folder `{rendered}` is empty, has a NUL byte, or climbs with `..`"
        ));
    }
    if path.is_absolute() != absolute {
        return Err(format!(
            "folder `{rendered}` became {} after its properties were filled in",
            if absolute { "relative" } else { "absolute" }
        ));
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_escapes() {
        assert_eq!(sanitize_file_name("order.edi").unwrap(), "order.edi");
        assert_eq!(
            sanitize_file_name("../../etc/passwd").unwrap(),
            "_.._etc_passwd"
        );
        assert_eq!(sanitize_file_name("/etc/passwd").unwrap(), "_etc_passwd");
        assert_eq!(
            sanitize_file_name("..\\..\\win.ini").unwrap(),
            "_.._win.ini"
        );
        assert_eq!(sanitize_file_name("a\0b").unwrap(), "a_b");
        assert_eq!(sanitize_file_name("a\nb\r").unwrap(), "a_b_");
        assert_eq!(sanitize_file_name(".hidden").unwrap(), "hidden");
        assert_eq!(
            sanitize_file_name("  spaced name.txt ").unwrap(),
            "spaced name.txt"
        );
        for bad in ["", ".", "..", "/", "../..", "///", " ", "\0", "._-"] {
            assert!(
                sanitize_file_name(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn sanitized_names_are_single_components() {
        for raw in [
            "../x",
            "a/../../b",
            "/",
            "\\\\server\\share",
            "x/.",
            "C:\\a",
        ] {
            if let Ok(name) = sanitize_file_name(raw) {
                let p = Path::new(&name);
                assert_eq!(p.components().count(), 1, "{raw:?} -> {name:?}");
                assert!(matches!(
                    p.components().next(),
                    Some(std::path::Component::Normal(_))
                ));
            }
        }
    }

    #[test]
    fn long_names_are_truncated_keeping_extension() {
        let long = format!("{}.edi", "é".repeat(300));
        let name = sanitize_file_name(&long).unwrap();
        assert!(name.len() <= MAX_NAME_BYTES);
        assert!(name.ends_with(".edi"));
    }


    #[test]
    fn directories_from_properties_cannot_escape() {
        assert_eq!(
            safe_directory("data/in/acme", false).unwrap(),
            PathBuf::from("data/in/acme")
        );
        assert!(safe_directory("data/in/../../etc", false).is_err());
        assert!(safe_directory("/etc/in", false).is_err());
        assert!(safe_directory("data/in", true).is_err());
        assert!(safe_directory("/srv/in/acme", true).is_ok());
        assert!(safe_directory("", false).is_err());
    }

    #[test]
    fn numbering() {
        assert_eq!(numbered("a.edi", 0), "a.edi");
        assert_eq!(numbered("a.edi", 2), "a-2.edi");
        assert_eq!(numbered("a.tar.gz", 1), "a.tar-1.gz");
        assert_eq!(numbered("noext", 3), "noext-3");
    }
}
