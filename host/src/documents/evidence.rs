//! A document's evidence as files: the payload, the raw request as received, and the answer
//! sent (an MDN, or the HTTP answer's text). Shared by `berth documents export` and the admin
//! API, so that both name and choose the bytes the same way.

use berth_store::{StoredDocument, StoredPayload};
use bytes::Bytes;

/// Which of a document's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Payload,
    Raw,
    Answer,
}

impl Part {
    pub fn parse(text: &str) -> Option<Part> {
        match text {
            "payload" => Some(Part::Payload),
            "raw" => Some(Part::Raw),
            "answer" => Some(Part::Answer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Payload => "payload",
            Part::Raw => "raw",
            Part::Answer => "answer",
        }
    }
}

/// One file of evidence: its content (a reader for a large one) and the name to save it as.
pub struct Evidence {
    pub content: StoredPayload,
    pub file_name: String,
}

/// The file `part` of `document`; `raw` is the store's raw request for it. An error says why
/// there is none (nothing kept, no answer yet).
pub fn evidence(
    document: StoredDocument,
    raw: Option<StoredPayload>,
    part: Part,
) -> Result<Evidence, String> {
    let id = document.id.clone();
    match part {
        Part::Payload => {
            let name = document
                .properties
                .iter()
                .find(|(name, _)| name == "file_name")
                .map(|(_, value)| safe_file_name(value))
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| format!("{id}.bin"));
            Ok(Evidence {
                content: document.payload,
                file_name: name,
            })
        }
        Part::Raw => match raw {
            Some(content) => Ok(Evidence {
                content,
                file_name: format!("{}.raw", safe_file_name(&id)),
            }),
            None => Err(format!(
                "document {id} has no raw request: its connector keeps none"
            )),
        },
        Part::Answer => match document.answer {
            Some(answer) => {
                // An HTTP answer is summarised by its status; anything else is an MDN's
                // disposition.
                let extension = if answer.summary.parse::<u16>().is_ok() {
                    "txt"
                } else {
                    "mdn"
                };
                Ok(Evidence {
                    content: StoredPayload::memory(Bytes::from(answer.bytes)),
                    file_name: format!("{}.{extension}", safe_file_name(&id)),
                })
            }
            None => Err(format!("document {id} has no answer recorded")),
        },
    }
}

/// A partner's file name made safe to save and to quote in a header: no folders, no quotes, no
/// control characters.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | ';' | '\\' | '/') {
                '_'
            } else {
                c
            }
        })
        .collect();
    match cleaned.trim() {
        "" | "." | ".." => String::new(),
        name => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_folders_and_quotes() {
        assert_eq!(safe_file_name("po-1.edi"), "po-1.edi");
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("a\"b;\r\n.txt"), "a_b___.txt");
        assert_eq!(safe_file_name(".."), "");
    }
}
