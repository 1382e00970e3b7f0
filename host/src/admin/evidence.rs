//! `GET /api/documents/{id}/payload|raw|answer`: a document's evidence as a download.

use http::{header, HeaderValue, StatusCode};

use super::{body, error, Admin, Answer};
use crate::documents::evidence::{evidence, Part};

pub async fn download(admin: &Admin, id: &str, part: &str) -> Answer {
    let Some(part) = Part::parse(part) else {
        return error(StatusCode::NOT_FOUND, "no such API call");
    };
    let Some(store) = admin.intake.store().cloned() else {
        return error(StatusCode::CONFLICT, "the message store is off");
    };
    let document = match store.get(id).await {
        Ok(Some(document)) => document,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such document"),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let raw = if part == Part::Raw {
        match store.raw(id).await {
            Ok(raw) => raw,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    } else {
        None
    };
    let file = match evidence(document, raw, part) {
        Ok(file) => file,
        Err(message) => return error(StatusCode::NOT_FOUND, &message),
    };
    let len = file.content.len();
    let mut answer = http::Response::new(body::stream(file.content));
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(value) = HeaderValue::from_str(&disposition(&file.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    answer
}

/// `attachment` with the name twice: plain ASCII for every client, and RFC 6266's UTF-8 form
/// for the ones that read it.
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_disposition_names_the_file_for_every_client() {
        assert_eq!(
            super::disposition("po 1.edi"),
            "attachment; filename=\"po 1.edi\"; filename*=UTF-8''po%201.edi"
        );
        assert_eq!(
            super::disposition("€.txt"),
            "attachment; filename=\"_.txt\"; filename*=UTF-8''%E2%82%AC.txt"
        );
    }
}
