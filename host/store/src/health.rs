//! Whether the store's database can be reached, as the store's own calls find it: the first
//! [`StoreError::Unavailable`] after a success marks it unavailable, the first success after
//! that marks it available again, and each change is logged once (a database down for a minute
//! under load would otherwise fill the log with one line per refused request).

use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use crate::error::StoreError;

/// Shared by the clones of a [`crate::Store`].
pub(crate) struct Health {
    state: Mutex<State>,
}

struct State {
    /// Why the database is unreachable, while it is.
    down: Option<String>,
    /// When it last changed: a call that began before then says nothing about now (a commit
    /// that began before the database stopped and is observed after a refusal must not make
    /// it look back, nor a refusal from before its return make it look gone again).
    changed: Instant,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            state: Mutex::new(State {
                down: None,
                changed: Instant::now(),
            }),
        }
    }
}

impl Health {
    /// Runs one call of the store and notes what it found.
    pub async fn watch<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let began = Instant::now();
        let result = call.await;
        self.observe(began, &result);
        result
    }

    fn observe<T>(&self, began: Instant, result: &Result<T, StoreError>) {
        match result {
            Ok(_) => self.change(began, None),
            Err(StoreError::Unavailable(cause)) => self.change(began, Some(chain(cause.as_ref()))),
            // The database answered (it refused a statement, or a document is missing): it is
            // reachable, but one failed statement is not proof that all is well either.
            Err(_) => {}
        }
    }

    /// Why the database cannot be reached, or `None` while it can (as far as the last call
    /// found).
    pub fn unavailable(&self) -> Option<String> {
        self.lock().down.clone()
    }

    fn change(&self, began: Instant, down: Option<String>) {
        let mut state = self.lock();
        if began < state.changed || state.down.is_some() == down.is_some() {
            return;
        }
        match &down {
            Some(cause) => tracing::error!("store unavailable: {cause}"),
            None => tracing::info!("store available again"),
        }
        state.down = down;
        state.changed = Instant::now();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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
    use std::time::{Duration, Instant};

    use super::Health;
    use crate::error::StoreError;

    fn refused() -> StoreError {
        StoreError::Unavailable(Arc::new(std::io::Error::other("connection refused")))
    }

    #[tokio::test]
    async fn a_change_of_state_is_noted_once_and_a_success_ends_it() {
        let health = Health::default();
        assert_eq!(health.unavailable(), None);
        assert!(health
            .watch(async { Err::<(), _>(refused()) })
            .await
            .is_err());
        assert!(health
            .watch(async { Err::<(), _>(refused()) })
            .await
            .is_err());
        assert_eq!(health.unavailable().as_deref(), Some("connection refused"));
        // A statement the database refused says nothing about reaching it.
        let _ = health
            .watch(async { Err::<(), _>(StoreError::Invalid("bad".into())) })
            .await;
        assert!(health.unavailable().is_some());
        assert_eq!(health.watch(async { Ok(3) }).await.unwrap(), 3);
        assert_eq!(health.unavailable(), None);
    }

    #[tokio::test]
    async fn a_call_that_began_before_the_last_change_does_not_undo_it() {
        let health = Health::default();
        let began = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        assert!(health
            .watch(async { Err::<(), _>(refused()) })
            .await
            .is_err());
        // A commit that began before the database went away, and ends after.
        health.observe(began, &Ok(()));
        assert!(health.unavailable().is_some());
        assert!(health.watch(async { Ok(()) }).await.is_ok());
        assert_eq!(health.unavailable(), None);
    }
}
