//! The lease store: a trait for any crash-safe key-value store, the embedded redb implementation,
//! an in-memory one for tests, and the group committer that makes a lease durable before the
//! client sees the Reply that grants it without letting fsync cap the throughput.
//!
//! Group commit: the event loop hands each batch of changes (one per turn of the loop) to a store
//! thread with a sequence number; the thread takes every batch that arrived while it was busy,
//! writes them in one transaction, commits (fsync when durable), and reports "committed up to
//! sequence N". Replies wait in the event loop until their sequence is committed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableTable, TableDefinition};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// Which table a record lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Lease bindings, keyed by resource.
    Bindings,
    /// Server metadata (server DUID, per-relationship failover state).
    Meta,
}

/// One change: put (`Some`) or delete (`None`) a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// The table.
    pub table: Table,
    /// The key.
    pub key: Vec<u8>,
    /// The new value, or `None` to delete.
    pub value: Option<Vec<u8>>,
}

/// Everything a store holds, as read at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Lease bindings.
    pub bindings: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Metadata.
    pub meta: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// A store failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lease store: {0}")]
pub struct StoreError(pub String);

/// A crash-safe store: when `commit` returns `Ok`, every op in it survives a crash, atomically.
pub trait LeaseStore: Send + 'static {
    /// Reads everything (at start-up).
    fn load(&mut self) -> Result<Snapshot, StoreError>;
    /// Applies `ops` atomically and durably.
    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError>;
}

const BINDINGS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("bindings");
const META: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("meta");

/// The embedded store: one redb file.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    durable: bool,
}

fn se(what: &str) -> impl Fn(&dyn std::fmt::Display) -> StoreError + '_ {
    move |e| StoreError(format!("{what}: {e}"))
}

impl RedbStore {
    /// Opens or creates the database at `path`. With `durable` false, commits skip fsync (tests
    /// and benchmarks of the non-durable mode only).
    pub fn open(path: &Path, durable: bool) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError(format!("creating {}: {e}", dir.display())))?;
        }
        let db = Database::create(path)
            .map_err(|e| StoreError(format!("opening {}: {e}", path.display())))?;
        let store = Self { db, durable };
        // Create both tables so that reads never meet a missing table.
        let txn = store.db.begin_write().map_err(|e| se("begin")(&e))?;
        txn.open_table(BINDINGS)
            .map_err(|e| se("bindings table")(&e))?;
        txn.open_table(META).map_err(|e| se("meta table")(&e))?;
        txn.commit().map_err(|e| se("commit")(&e))?;
        Ok(store)
    }
}

impl LeaseStore for RedbStore {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read().map_err(|e| se("begin read")(&e))?;
        let mut snap = Snapshot::default();
        for (def, out) in [(BINDINGS, &mut snap.bindings), (META, &mut snap.meta)] {
            let table = txn.open_table(def).map_err(|e| se("open table")(&e))?;
            for item in table.iter().map_err(|e| se("iterate")(&e))? {
                let (k, v) = item.map_err(|e| se("read")(&e))?;
                out.insert(k.value().to_vec(), v.value().to_vec());
            }
        }
        Ok(snap)
    }

    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(|e| se("begin")(&e))?;
        txn.set_durability(if self.durable {
            Durability::Immediate
        } else {
            Durability::None
        });
        {
            let mut bindings = txn
                .open_table(BINDINGS)
                .map_err(|e| se("bindings table")(&e))?;
            let mut meta = txn.open_table(META).map_err(|e| se("meta table")(&e))?;
            for op in ops {
                let t = match op.table {
                    Table::Bindings => &mut bindings,
                    Table::Meta => &mut meta,
                };
                match &op.value {
                    Some(v) => {
                        t.insert(op.key.as_slice(), v.as_slice())
                            .map_err(|e| se("insert")(&e))?;
                    }
                    None => {
                        t.remove(op.key.as_slice()).map_err(|e| se("remove")(&e))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| se("commit")(&e))
    }
}

/// A store in memory (tests; loses everything on exit).
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    /// The contents.
    pub snapshot: Snapshot,
}

impl LeaseStore for MemStore {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        Ok(self.snapshot.clone())
    }
    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        for op in ops {
            let t = match op.table {
                Table::Bindings => &mut self.snapshot.bindings,
                Table::Meta => &mut self.snapshot.meta,
            };
            match &op.value {
                Some(v) => t.insert(op.key.clone(), v.clone()),
                None => t.remove(&op.key),
            };
        }
        Ok(())
    }
}

/// A batch handed to the committer: every op of one turn of the event loop.
#[derive(Debug)]
struct Job {
    seq: u64,
    ops: Vec<Op>,
}

/// What the committer reports back: every job with `seq <= upto` has been committed (or failed).
#[derive(Debug, Clone)]
pub struct Committed {
    /// Highest sequence number covered.
    pub upto: u64,
    /// Outcome of the commit(s) covering the jobs since the previous report.
    pub result: Result<(), StoreError>,
    /// How long the commit took (fsync included).
    pub took: Duration,
    /// How many ops it carried.
    pub ops: usize,
}

/// Runs a [`LeaseStore`] on its own thread with grouped commits.
#[derive(Debug)]
pub struct GroupCommitter {
    jobs: Option<std_mpsc::Sender<Job>>,
    next_seq: u64,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GroupCommitter {
    /// Starts the store thread. Commit reports arrive on the returned receiver in order.
    pub fn start<S: LeaseStore>(
        mut store: S,
        max_batch: usize,
        metrics: Arc<Metrics>,
    ) -> (Self, mpsc::UnboundedReceiver<Committed>) {
        let (jobs_tx, jobs_rx) = std_mpsc::channel::<Job>();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("lease-store".into())
            .spawn(move || {
                let mut ops: Vec<Op> = Vec::new();
                // Blocks for the first job, then takes whatever else queued up meanwhile.
                while let Ok(first) = jobs_rx.recv() {
                    let mut upto = first.seq;
                    ops.clear();
                    ops.extend(first.ops);
                    while ops.len() < max_batch {
                        match jobs_rx.try_recv() {
                            Ok(job) => {
                                upto = job.seq;
                                ops.extend(job.ops);
                            }
                            Err(_) => break,
                        }
                    }
                    let started = Instant::now();
                    let result = if ops.is_empty() {
                        Ok(())
                    } else {
                        store.commit(&ops)
                    };
                    let took = started.elapsed();
                    metrics.observe_commit(took, ops.len());
                    let report = Committed {
                        upto,
                        result,
                        took,
                        ops: ops.len(),
                    };
                    if done_tx.send(report).is_err() {
                        break;
                    }
                }
            })
            .ok();
        (
            Self {
                jobs: Some(jobs_tx),
                next_seq: 0,
                thread,
            },
            done_rx,
        )
    }

    /// Queues `ops` for the next grouped commit and returns their sequence number; the changes are
    /// durable once a [`Committed`] with `upto >= seq` and `Ok` arrives.
    pub fn submit(&mut self, ops: Vec<Op>) -> Result<u64, StoreError> {
        self.next_seq += 1;
        let seq = self.next_seq;
        match &self.jobs {
            Some(tx) if self.thread.is_some() => {
                tx.send(Job { seq, ops })
                    .map_err(|_| StoreError("store thread has stopped".into()))?;
                Ok(seq)
            }
            _ => Err(StoreError("store thread is not running".into())),
        }
    }

    /// The last sequence number handed out.
    pub fn last_seq(&self) -> u64 {
        self.next_seq
    }

    /// Stops accepting work, lets the thread commit what is queued and waits for it.
    pub fn shutdown(&mut self, timeout: Duration) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let deadline = Instant::now() + timeout;
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for GroupCommitter {
    /// A server dropped without a shutdown (the demo's simulated crash drops the whole event
    /// loop) still lets the store thread finish its commit and close the database before the
    /// drop returns, so that a restart in the same process can open it again.
    fn drop(&mut self) {
        self.shutdown(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &[u8], v: &[u8]) -> Op {
        Op {
            table: Table::Bindings,
            key: k.to_vec(),
            value: Some(v.to_vec()),
        }
    }

    #[test]
    fn redb_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("dhcpv6-store-test-{}", std::process::id()));
        let path = dir.join("leases.redb");
        let _ = std::fs::remove_file(&path);
        {
            let mut s = RedbStore::open(&path, true).expect("open");
            s.commit(&[put(b"a", b"1"), put(b"b", b"2")])
                .expect("commit");
            s.commit(&[
                Op {
                    table: Table::Bindings,
                    key: b"a".to_vec(),
                    value: None,
                },
                Op {
                    table: Table::Meta,
                    key: b"duid".to_vec(),
                    value: Some(b"x".to_vec()),
                },
            ])
            .expect("commit");
        }
        let mut s = RedbStore::open(&path, true).expect("reopen");
        let snap = s.load().expect("load");
        assert_eq!(snap.bindings.len(), 1);
        assert_eq!(snap.bindings.get(b"b".as_slice()), Some(&b"2".to_vec()));
        assert_eq!(snap.meta.get(b"duid".as_slice()), Some(&b"x".to_vec()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn group_commit_reports_in_order_and_covers_every_job() {
        let metrics = Arc::new(Metrics::default());
        let (mut gc, mut done) = GroupCommitter::start(MemStore::default(), 1000, metrics.clone());
        let mut last = 0;
        for i in 0..100u32 {
            last = gc
                .submit(vec![put(&i.to_be_bytes(), b"v")])
                .expect("submit");
        }
        let mut seen = 0;
        while seen < last {
            let c = done.recv().await.expect("report");
            assert!(c.upto > seen, "reports move forward");
            assert!(c.result.is_ok());
            seen = c.upto;
        }
        assert_eq!(seen, 100);
        gc.shutdown(Duration::from_secs(5));
        assert!(gc.submit(vec![]).is_err());
    }
}
