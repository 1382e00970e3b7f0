//! A process's CPU time from `/proc`, whole and per thread name, so a benchmark can charge the
//! server alone (its load generator runs on the same cores but in another process).
//!
//! `/proc/PID/stat` counts the threads that have exited too; the per-thread figures come from
//! `/proc/PID/task/*/stat` and miss those, so they are a breakdown, not the total.

use std::collections::BTreeMap;

/// User and system CPU seconds of a process (all its threads, living or exited).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    pub user: f64,
    pub system: f64,
}

impl CpuTimes {
    pub fn total(&self) -> f64 {
        self.user + self.system
    }

    /// The time spent between `before` and `self`.
    pub fn since(&self, before: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user - before.user,
            system: self.system - before.system,
        }
    }
}

/// A snapshot of a process: its totals and each living thread's, summed by thread name.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    pub process: CpuTimes,
    pub threads: BTreeMap<String, CpuTimes>,
}

impl CpuSnapshot {
    pub fn take(pid: u32) -> std::io::Result<CpuSnapshot> {
        let process = stat_times(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)?.1;
        let mut threads: BTreeMap<String, CpuTimes> = BTreeMap::new();
        for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            // A thread may end between the listing and the read: it is then left out.
            let Ok(text) = std::fs::read_to_string(entry?.path().join("stat")) else {
                continue;
            };
            let (name, times) = stat_times(&text)?;
            let sum = threads.entry(name).or_default();
            sum.user += times.user;
            sum.system += times.system;
        }
        Ok(CpuSnapshot { process, threads })
    }

    /// Per thread name, the time spent since `before` (threads born since count from zero).
    pub fn threads_since(&self, before: &CpuSnapshot) -> BTreeMap<String, CpuTimes> {
        self.threads
            .iter()
            .map(|(name, now)| {
                let then = before.threads.get(name).copied().unwrap_or_default();
                (name.clone(), now.since(&then))
            })
            .collect()
    }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// The thread name (`comm`) and utime/stime of one `stat` line. The name is in parentheses and
/// may itself hold spaces or parentheses, so the fields are counted after the last `)`.
fn stat_times(text: &str) -> std::io::Result<(String, CpuTimes)> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "unreadable /proc stat");
    let open = text.find('(').ok_or_else(bad)?;
    let close = text.rfind(')').ok_or_else(bad)?;
    let name = text.get(open + 1..close).ok_or_else(bad)?.to_string();
    // After the name: state is field 3, utime field 14, stime field 15 (proc(5)).
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let field = |n: usize| -> std::io::Result<f64> {
        let raw = fields.get(n - 3).ok_or_else(bad)?;
        raw.parse::<u64>().map(|v| v as f64).map_err(|_| bad())
    };
    let tick = ticks_per_second();
    Ok((
        name,
        CpuTimes {
            user: field(14)? / tick,
            system: field(15)? / tick,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_name_with_spaces_and_parentheses() {
        let line = "42 (tokio (w) 1) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0";
        let (name, times) = stat_times(line).unwrap();
        assert_eq!(name, "tokio (w) 1");
        let tick = ticks_per_second();
        assert_eq!(times.user, 250.0 / tick);
        assert_eq!(times.system, 75.0 / tick);
    }

    #[test]
    fn this_process_spends_cpu() {
        // Spins until /proc shows 50 ms of CPU spent (wall time varies on a shared machine).
        let before = CpuSnapshot::take(std::process::id()).unwrap();
        let started = std::time::Instant::now();
        let mut x = 0u64;
        let spent = loop {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            let now = CpuSnapshot::take(std::process::id()).unwrap();
            let spent = now.process.since(&before.process).total();
            if spent >= 0.05 || started.elapsed().as_secs() >= 20 {
                break (spent, now);
            }
        };
        assert!(spent.0 >= 0.05, "only {} s of CPU seen", spent.0);
        let threads = spent.1.threads_since(&before);
        assert!(threads.values().map(CpuTimes::total).sum::<f64>() > 0.0);
    }
}
