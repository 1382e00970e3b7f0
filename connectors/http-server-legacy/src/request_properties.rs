//! The request metadata every document carries, so steps can route and name files by it:
//! `http.method`, `http.path`, `http.query`, `http.query.NAME`, `http.header.NAME` (lower-case
//! names), `http.remote_addr`, and the tracked `mime_type` and `file_name`.

use berth_connector_sdk::prelude::*;

use berth_connector_sdk::query;

/// Headers that carry credentials.
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

pub fn properties_of(request: &Request<'_>) -> Vec<Property> {
    // Sized once: four fixed, one per header and query pair, two tracked.
    let mut props = Vec::with_capacity(6 + request.headers.len() + request.query_str().len() / 4);
    props.extend([
        Property::new("http.method", request.method.as_str()),
        Property::new("http.path", request.path.as_str()),
        Property::new("http.query", request.query_str()),
        Property::new("http.remote_addr", request.remote_addr.as_str()),
    ]);
    for (name, value) in query::pairs(request.query_str()) {
        props.push(Property::new(format!("http.query.{name}"), value));
    }
    for header in request.headers.iter() {
        // Credentials never become properties: properties are shown in listings and the
        // console, and travel to every step.
        if SECRET_HEADERS.contains(&header.name.as_str()) {
            continue;
        }
        // Values that are not UTF-8 cannot be a text property; the raw request keeps them.
        let Ok(value) = std::str::from_utf8(header.value.as_slice()) else {
            continue;
        };
        let name = format!("http.header.{}", header.name);
        match props.iter_mut().find(|p| p.name.as_str() == name) {
            Some(existing) => {
                existing.value.push_str(", ");
                existing.value.push_str(value);
            }
            None => props.push(Property::new(name, value)),
        }
    }
    if let Some(content_type) = request.header_str("content-type") {
        props.push(Property::new(properties::MIME_TYPE, content_type.trim()));
    }
    if let Some(name) = request
        .header_str("content-disposition")
        .and_then(disposition_file_name)
    {
        props.push(Property::new(properties::FILE_NAME, name));
    }
    props
}

/// The `filename` parameter of a Content-Disposition header, unquoted. It is only a name the
/// sender proposes: the write-file step makes it safe before using it.
fn disposition_file_name(value: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, raw) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("filename") {
            return None;
        }
        let raw = raw.trim();
        let name = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .map(|r| r.replace("\\\"", "\"").replace("\\\\", "\\"))
            .unwrap_or_else(|| raw.to_string());
        (!name.is_empty()).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_from_disposition() {
        assert_eq!(
            disposition_file_name("attachment; filename=\"order 1.xml\"").as_deref(),
            Some("order 1.xml")
        );
        assert_eq!(
            disposition_file_name("attachment; FileName=a.edi").as_deref(),
            Some("a.edi")
        );
        assert_eq!(disposition_file_name("inline"), None);
    }
}
