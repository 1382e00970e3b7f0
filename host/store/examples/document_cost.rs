//! What one received document costs the store, driven the way the host drives it: 16 concurrent
//! tasks (requests), each receiving documents one after the other (AS2-like: 2 KiB payload,
//! 5 KiB raw request kept as evidence, 6 properties, a duplicate key checked against the last
//! 100000 documents of the process), and, for every document, the writes after its receipt:
//!
//! * `old`: `finish` then `record_answer`, each fired without waiting (`tokio::spawn`), as
//!   host/src/runtime.rs did: three writes per document;
//! * `new`: `conclude` (outcome and answer together), fired without waiting: two writes.
//!
//! Only `receive` is awaited by the task before its next document, since the partner's answer
//! waits for it; the phase ends when every write of every document has committed. For each
//! phase it prints documents per second and CPU time per document: of the whole process
//! (utime + stime from /proc/self/stat, which includes the tasks building the documents) and
//! of the store's writer thread alone (/proc/self/task/TID/stat), and what the writer thread
//! handed to the kernel per document (bytes and calls of write/pwrite, calls of read/pread,
//! from /proc/self/task/TID/io).
//!
//! ```text
//! cargo run --release -p berth-store --example document_cost -- \
//!     [--docs 20000] [--secs 30] [--tasks 16] [--rounds 1] [--paths old,new] [--await] [DIR]
//! ```
//!
//! Each phase opens a fresh store in a new temp dir under DIR (default: the system temp dir,
//! /tmp) and stops at `--docs` documents or after `--secs` seconds, whichever comes first.
//! DIR decides what is measured: on a disk, fsync latency sets the batch sizes; on a tmpfs
//! (/dev/shm) fsync is free and only CPU is left. `--await` makes each task await every write
//! of a document before its next one (a latency-bound load) instead of firing them.
//!
//! Last measured (shared 2-core VM, 20000 documents a phase, median of 4-5 runs; "before" is
//! the store before its tuning, with `conclude` added):
//!
//! | dir | path | before: docs/s, CPU us/doc | after: docs/s, CPU us/doc |
//! | --- | --- | --- | --- |
//! | ext4 disk | old | 7069, 127 | 10738, 81 |
//! | ext4 disk | new | 6988, 124 | 11400, 72 |
//! | tmpfs | old | 12785, 88 | 24724, 48 |
//! | tmpfs | new | 14395, 76 | 24734, 46 |

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_store::{Answer, Finish, NewDocument, Received, Store};
use bytes::Bytes;

const PROPERTIES: usize = 6;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    /// receive, finish, record_answer.
    Old,
    /// receive, conclude.
    New,
}

impl Lifecycle {
    fn name(self) -> &'static str {
        match self {
            Lifecycle::Old => "old: receive+finish+record_answer",
            Lifecycle::New => "new: receive+conclude",
        }
    }
}

struct Config {
    docs: usize,
    limit: Duration,
    tasks: usize,
    rounds: usize,
    paths: Vec<Lifecycle>,
    await_all: bool,
    base: PathBuf,
}

fn config() -> Config {
    let mut config = Config {
        docs: 20_000,
        limit: Duration::from_secs(30),
        tasks: 16,
        rounds: 1,
        paths: vec![Lifecycle::Old, Lifecycle::New],
        await_all: false,
        base: std::env::temp_dir(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match arg.as_str() {
            "--docs" => config.docs = value("--docs").parse().expect("--docs N"),
            "--secs" => {
                config.limit = Duration::from_secs_f64(value("--secs").parse().expect("--secs S"))
            }
            "--tasks" => config.tasks = value("--tasks").parse().expect("--tasks N"),
            "--rounds" => config.rounds = value("--rounds").parse().expect("--rounds N"),
            "--paths" => {
                config.paths = value("--paths")
                    .split(',')
                    .map(|p| match p {
                        "old" => Lifecycle::Old,
                        "new" => Lifecycle::New,
                        other => panic!("unknown path {other:?} (old, new)"),
                    })
                    .collect()
            }
            "--await" => config.await_all = true,
            dir if !dir.starts_with('-') => config.base = PathBuf::from(dir),
            other => panic!("unknown option {other}"),
        }
    }
    config
}

/// The fixed parts of every document, shared so that building one costs little.
struct Template {
    payload: Bytes,
    raw: Bytes,
    answer: Vec<u8>,
}

fn document(i: usize, t: &Template) -> NewDocument {
    NewDocument {
        id: format!("{:012x}-{i:06x}", 0x18f_0000_0000u64 + i as u64 / 16),
        process: "as2-orders".into(),
        payload: t.payload.clone().into(),
        properties: vec![
            ("as2.from".into(), "PARTNER-A".into()),
            ("as2.to".into(), "BERTH".into()),
            ("as2.message_id".into(), format!("<{i}@partner-a.example>")),
            ("as2.subject".into(), "orders".into()),
            ("file.name".into(), format!("order-{i}.edi")),
            ("mime.type".into(), "application/edi-x12".into()),
        ],
        raw: Some(t.raw.clone().into()),
        duplicate_key: Some(format!("PARTNER-A|BERTH|<{i}@partner-a.example>")),
        duplicate_window: 100_000,
        unique_key: None,
    }
}

/// CPU time (user + system) in clock ticks, from a /proc stat file.
fn ticks(stat: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(stat).ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // Fields 14 and 15 of stat(5), counted from the state (field 3) here.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn tick_secs() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    1.0 / if hz > 0 { hz as f64 } else { 100.0 }
}

/// The stat file of the store's writer thread (named `berth-store-writer`, shown truncated).
/// Each phase has one store open, so there is one such thread. The thread names itself once
/// it runs, so a store just opened may need a moment.
fn writer_stat() -> Option<PathBuf> {
    for _ in 0..100 {
        for entry in std::fs::read_dir("/proc/self/task").ok()? {
            let dir = entry.ok()?.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim_end().starts_with("berth-store-wr") {
                return Some(dir.join("stat"));
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

struct Measured {
    docs: usize,
    elapsed: Duration,
    process_ticks: u64,
    writer_ticks: u64,
    /// Bytes the writer thread handed to write(2)/pwrite(2), and how many such calls.
    writer_bytes: u64,
    writer_writes: u64,
    /// How many read(2)/pread(2) calls it made (pages not in SQLite's cache, checkpoints).
    writer_reads: u64,
}

/// (bytes written, write calls, read calls) of a thread, from its /proc io file.
fn io(file: &Path) -> (u64, u64, u64) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("wchar:"), field("syscw:"), field("syscr:"))
}

async fn drive(store: Store, config: &Config, path: Lifecycle, template: Arc<Template>) -> usize {
    let deadline = Instant::now() + config.limit;
    let mut tasks = Vec::new();
    for t in 0..config.tasks {
        let (store, template) = (store.clone(), template.clone());
        let (docs, step, await_all) = (config.docs, config.tasks, config.await_all);
        tasks.push(tokio::spawn(async move {
            let mut fired = Vec::new();
            let mut done = 0;
            for i in (t..docs).step_by(step) {
                if Instant::now() >= deadline {
                    break;
                }
                let doc = document(i, &template);
                let id = doc.id.clone();
                let received = store.receive(doc).await.expect("receive");
                assert_eq!(received, Received::New);
                done += 1;
                let answer = Answer {
                    summary: "processed".into(),
                    bytes: template.answer.clone(),
                };
                let writes = match path {
                    Lifecycle::Old => {
                        let (s, id2) = (store.clone(), id.clone());
                        let finish = tokio::spawn(async move {
                            s.finish(&id2, Finish::Processed).await.expect("finish")
                        });
                        let s = store.clone();
                        let answer = tokio::spawn(async move {
                            s.record_answer(&id, answer).await.expect("answer")
                        });
                        vec![finish, answer]
                    }
                    Lifecycle::New => {
                        let s = store.clone();
                        vec![tokio::spawn(async move {
                            s.conclude(&id, Finish::Processed, Some(answer))
                                .await
                                .expect("conclude")
                        })]
                    }
                };
                if await_all {
                    for w in writes {
                        w.await.expect("write task");
                    }
                } else {
                    fired.extend(writes);
                }
            }
            for w in fired {
                w.await.expect("write task");
            }
            done
        }));
    }
    let mut docs = 0;
    for task in tasks {
        docs += task.await.expect("task");
    }
    docs
}

fn measure(rt: &tokio::runtime::Runtime, config: &Config, path: Lifecycle) -> Measured {
    let dir = tempfile::tempdir_in(&config.base).expect("temp dir");
    let store = Store::open(dir.path()).expect("open store");
    let writer = writer_stat().expect("the store's writer thread");
    let template = Arc::new(Template {
        payload: Bytes::from(vec![b'x'; 2048]),
        raw: Bytes::from(vec![b'r'; 5 * 1024]),
        answer: vec![b'm'; 2048],
    });
    let writer_io = writer.with_file_name("io");
    let (process0, writer0) = (ticks(Path::new("/proc/self/stat")), ticks(&writer));
    let io0 = io(&writer_io);
    let start = Instant::now();
    let docs = rt.block_on(drive(store.clone(), config, path, template));
    let elapsed = start.elapsed();
    let (process1, writer1) = (ticks(Path::new("/proc/self/stat")), ticks(&writer));
    let io1 = io(&writer_io);
    drop(store);
    let diff = |a: Option<u64>, b: Option<u64>| b.unwrap_or(0).saturating_sub(a.unwrap_or(0));
    Measured {
        docs,
        elapsed,
        process_ticks: diff(process0, process1),
        writer_ticks: diff(writer0, writer1),
        writer_bytes: io1.0.saturating_sub(io0.0),
        writer_writes: io1.1.saturating_sub(io0.1),
        writer_reads: io1.2.saturating_sub(io0.2),
    }
}

fn main() {
    let config = config();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tick = tick_secs();
    println!(
        "{} tasks, 2 KiB payload + 5 KiB raw inline, {PROPERTIES} properties, duplicate window \
         100000, answer 2 KiB; writes after receipt {}; dir {}; at most {} docs or {:?} a phase",
        config.tasks,
        if config.await_all { "awaited" } else { "fired" },
        config.base.display(),
        config.docs,
        config.limit,
    );
    println!(
        "{:<36} {:>7} {:>7} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "path",
        "docs",
        "secs",
        "docs/s",
        "cpu us/doc",
        "writer us",
        "KiB w/doc",
        "writes/doc",
        "reads/doc"
    );
    for _ in 0..config.rounds {
        for &path in &config.paths {
            let m = measure(&rt, &config, path);
            let per_doc = |t: u64| t as f64 * tick * 1e6 / m.docs.max(1) as f64;
            let docs = m.docs.max(1) as f64;
            println!(
                "{:<36} {:>7} {:>7.2} {:>7.0} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                path.name(),
                m.docs,
                m.elapsed.as_secs_f64(),
                m.docs as f64 / m.elapsed.as_secs_f64(),
                per_doc(m.process_ticks),
                per_doc(m.writer_ticks),
                m.writer_bytes as f64 / 1024.0 / docs,
                m.writer_writes as f64 / docs,
                m.writer_reads as f64 / docs,
            );
        }
    }
}
