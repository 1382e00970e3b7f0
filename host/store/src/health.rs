//! Whether the store's database can be reached, as the store's own calls find it: the first
//! [`StoreError::Unavailable`] after a success marks it unavailable, the first success after
//! that marks it available again, and each change is logged once (a database down for a minute
//! under load would otherwise fill the log with one line per refused request).

use std::sync::Mutex;

use crate::error::StoreError;

/// Shared by the clones of a [`crate::Store`].
#[derive(Default)]
pub(crate) struct Health {
    /// Why the database is unreachable, while it is.
    down: Mutex<Option<String>>,
}

impl Health {
    /// Notes what a call of the store found, and passes its result on.
    pub fn observe<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match &result {
            Ok(_) => self.up(),
            Err(StoreError::Unavailable(cause)) => self.fell(chain(cause.as_ref())),
            // The database answered (it refused a statement, or a document is missing): it is
            // reachable, but one failed statement is not proof that all is well either.
            Err(_) => {}
        }
        result
    }

    /// Why the database cannot be reached, or `None` while it can (as far as the last call
    /// found).
    pub fn unavailable(&self) -> Option<String> {
        self.lock().clone()
    }

    fn up(&self) {
        let mut down = self.lock();
        if down.take().is_some() {
            tracing::info!("store available again");
        }
    }

    fn fell(&self, cause: String) {
        let mut down = self.lock();
        if down.is_none() {
            tracing::error!("store unavailable: {cause}");
            *down = Some(cause);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.down.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An error and its sources in one line, each said once ("error connecting to server:
/// Connection refused"), since the outer message alone rarely says what went wrong.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Health;
    use crate::error::StoreError;

    fn refused() -> StoreError {
        StoreError::Unavailable(Arc::new(std::io::Error::other("connection refused")))
    }

    #[test]
    fn a_change_of_state_is_noted_once_and_a_success_ends_it() {
        let health = Health::default();
        assert_eq!(health.unavailable(), None);
        assert!(health.observe::<()>(Err(refused())).is_err());
        assert!(health.observe::<()>(Err(refused())).is_err());
        assert_eq!(health.unavailable().as_deref(), Some("connection refused"));
        // A statement the database refused says nothing about reaching it.
        let _ = health.observe::<()>(Err(StoreError::Invalid("bad".into())));
        assert!(health.unavailable().is_some());
        assert_eq!(health.observe(Ok(3)).unwrap(), 3);
        assert_eq!(health.unavailable(), None);
    }
}
