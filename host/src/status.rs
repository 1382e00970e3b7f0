//! What operators see of each listener: its state, its counters and its last error. A listener
//! is a deployed process with a listen connector, as in the vendor's Listeners panel; its state
//! outlives restarts and redeploys (a paused listener stays paused).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Listening,
    Paused,
    Errored,
    Stopped,
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Listening => "listening",
            State::Paused => "paused",
            State::Errored => "errored",
            State::Stopped => "stopped",
        }
    }
}

/// One listener's live status.
pub struct ListenerStatus {
    state: Mutex<(State, Option<(String, SystemTime)>)>,
    /// Paused by an operator: survives restarts, and an errored listener that comes back up
    /// comes back paused.
    paused: std::sync::atomic::AtomicBool,
    pub documents: AtomicU64,
    pub errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl ListenerStatus {
    fn new() -> Self {
        Self {
            state: Mutex::new((State::Stopped, None)),
            paused: Default::default(),
            documents: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    pub fn state(&self) -> State {
        lock(&self.state).0.clone()
    }

    /// The error that put this listener in the errored state, and when.
    pub fn error(&self) -> Option<(String, SystemTime)> {
        lock(&self.state).1.clone()
    }

    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// The listener is bound and serving (paused if an operator paused it).
    pub fn up(&self) {
        let state = if self.is_paused() {
            State::Paused
        } else {
            State::Listening
        };
        *lock(&self.state) = (state, None);
    }

    pub fn errored(&self, error: String) {
        *lock(&self.state) = (State::Errored, Some((error, SystemTime::now())));
    }

    /// Pause: only a serving listener can be paused.
    pub fn pause(&self) -> Result<(), String> {
        let mut state = lock(&self.state);
        match state.0 {
            State::Listening | State::Paused => {
                self.paused.store(true, Ordering::Release);
                state.0 = State::Paused;
                Ok(())
            }
            ref other => Err(format!(
                "a listener that is {} cannot be paused",
                other.as_str()
            )),
        }
    }

    /// Resume works only from paused (the vendor's rule).
    pub fn resume(&self) -> Result<(), String> {
        let mut state = lock(&self.state);
        if state.0 != State::Paused {
            return Err(format!(
                "only a paused listener can be resumed; this one is {}",
                state.0.as_str()
            ));
        }
        self.paused.store(false, Ordering::Release);
        state.0 = State::Listening;
        Ok(())
    }

    pub fn document_failed(&self, error: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_error) = Some(error.to_string());
    }

    pub fn document_accepted(&self) {
        self.documents.fetch_add(1, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data half-written (each
    // critical section is one assignment), so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every listener's status, by process name.
#[derive(Default)]
pub struct StatusBoard {
    listeners: RwLock<BTreeMap<String, Arc<ListenerStatus>>>,
}

impl StatusBoard {
    /// The status of a process's listener, created (stopped) on first use.
    pub fn of(&self, process: &str) -> Arc<ListenerStatus> {
        if let Some(status) = self.read().get(process) {
            return Arc::clone(status);
        }
        let mut listeners = self
            .listeners
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(
            listeners
                .entry(process.to_string())
                .or_insert_with(|| Arc::new(ListenerStatus::new())),
        )
    }

    pub fn get(&self, process: &str) -> Option<Arc<ListenerStatus>> {
        self.read().get(process).cloned()
    }

    /// Forget an undeployed process.
    pub fn remove(&self, process: &str) {
        self.listeners
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(process);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<ListenerStatus>>> {
        self.listeners
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_survives_an_error_and_a_comeback() {
        let board = StatusBoard::default();
        let status = board.of("orders");
        assert!(
            status.pause().is_err(),
            "a stopped listener cannot be paused"
        );
        status.up();
        status.pause().unwrap();
        assert_eq!(status.state(), State::Paused);
        status.errored("port taken".into());
        assert_eq!(status.state(), State::Errored);
        assert!(status.resume().is_err());
        status.up();
        assert_eq!(
            status.state(),
            State::Paused,
            "a paused listener stays paused"
        );
        status.resume().unwrap();
        assert_eq!(status.state(), State::Listening);
        assert!(status.resume().is_err(), "resume works only from paused");
    }
}
