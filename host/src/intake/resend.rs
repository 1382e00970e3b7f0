//! A resend that arrives while its original's answer is not yet recorded.
//!
//! The answer to a new document goes out before its record is written (the write is not
//! awaited, see `Intake::conclude`), so a partner that resends at once (some AS2 clients retry
//! as soon as a connection drops after the MDN was sent) can find the original stored but
//! without its answer; it would then get a `duplicate-document` warning instead of the MDN the
//! original got. Waiting a moment for that record gives the partner the same answer both times.

use std::time::Duration;

use berth_store::Store;

/// How long a resend waits for its original's answer: the record of an answer already sent
/// takes milliseconds; an original whose process is still running is not waited for longer.
const WAIT: Duration = Duration::from_secs(2);
const STEP: Duration = Duration::from_millis(50);

/// The original's recorded answer, waiting up to [`WAIT`] for it to be written.
pub(super) async fn answer_of(store: &Store, original_id: &str) -> Option<Vec<u8>> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        tokio::time::sleep(STEP).await;
        if let Ok(Some(original)) = store.get(original_id).await {
            if let Some(answer) = original.answer {
                return Some(answer.bytes);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
    }
}
