//! The lease store: a trait for any crash-safe key-value store, the embedded redb implementation,
//! an in-memory one for tests, and the group committer that makes a lease durable before the
//! client sees the Reply that grants it without letting fsync cap the throughput.
//!
//! Group commit: the event loop hands each batch of changes (one per turn of the loop) to a store
//! thread with a sequence number; the thread takes every batch that arrived while it was busy,
//! writes them in one transaction, commits (fsync when durable), and reports "committed up to
//! sequence N". Replies wait in the event loop until their sequence is committed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
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

/// The store's own upkeep done inside one commit, besides the ops it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Keys whose latest journal entry was folded into the bindings table.
    pub folded: usize,
    /// Journal entries deleted (each one folded or superseded by a later entry of its key).
    pub trimmed: usize,
}

/// A crash-safe store: when `commit` returns `Ok`, every op in it survives a crash, atomically.
pub trait LeaseStore: Send + 'static {
    /// Reads everything (at start-up).
    fn load(&mut self) -> Result<Snapshot, StoreError>;
    /// Applies `ops` atomically and durably, and says what upkeep the same commit carried.
    fn commit(&mut self, ops: &[Op]) -> Result<CommitStats, StoreError>;
}

const BINDINGS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("bindings");
const META: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("meta");
/// Binding changes not yet folded into [`BINDINGS`], keyed by a counter that only grows.
const JOURNAL: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("journal");

/// Folding starts once this many keys have unfolded journal entries, or a quarter of the
/// bindings table if that is more.
const FOLD_MIN: usize = 16_384;

/// When and how much of the journal a commit folds (see [`RedbStore`]).
#[derive(Debug, Clone, Copy)]
struct FoldPolicy {
    /// Folding is due while more keys than `max(min_dirty, bindings / 4)` have unfolded
    /// entries, or the journal holds more than twice that many entries.
    min_dirty: usize,
    /// The fewest keys a commit folds once folding is due.
    min_step: usize,
    /// The most keys a commit folds, unless more than twice the target are dirty and the
    /// commit itself carries more binding changes.
    max_step: usize,
    /// The most journal entries a commit deletes, unless twice its own binding changes is more.
    max_trim: usize,
}

impl FoldPolicy {
    const DEFAULT: Self = Self {
        min_dirty: FOLD_MIN,
        min_step: 64,
        max_step: 256,
        max_trim: 1024,
    };

    /// How many dirty keys the store keeps before it folds.
    fn target(&self, bindings_len: u64) -> usize {
        self.min_dirty
            .max(usize::try_from(bindings_len / 4).unwrap_or(usize::MAX))
    }
}

/// A binding key as [`RedbStore`] keeps it in memory: the first 24 bytes as two big-endian
/// integers (zero-padded), the length (capped at 25), and the bytes past the 24th (none for
/// resource keys, which are 17 or 18 bytes: no allocation). Ordered exactly like the bytes:
/// where the padded heads are equal, the shorter key is a prefix of the other.
///
/// Keyed by byte vectors, the dirty map spent its time in `memcmp` and in allocating and
/// freeing the keys it copied (measured with callgrind, see `commit_cost`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct MemKey {
    hi: u128,
    lo: u64,
    len: u8,
    tail: Box<[u8]>,
}

impl MemKey {
    fn new(key: &[u8]) -> Self {
        let mut head = [0u8; 24];
        let n = key.len().min(24);
        head[..n].copy_from_slice(&key[..n]);
        let (hi, lo) = head.split_at(16);
        Self {
            hi: u128::from_be_bytes(hi.try_into().unwrap_or_default()),
            lo: u64::from_be_bytes(lo.try_into().unwrap_or_default()),
            len: u8::try_from(key.len()).unwrap_or(25).min(25),
            tail: key.get(24..).unwrap_or_default().into(),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(24 + self.tail.len());
        k.extend_from_slice(&self.hi.to_be_bytes());
        k.extend_from_slice(&self.lo.to_be_bytes());
        k.truncate(usize::from(self.len));
        k.extend_from_slice(&self.tail);
        k
    }

    /// The smallest key after this one.
    fn successor(&self) -> Self {
        let mut k = self.to_bytes();
        k.push(0);
        Self::new(&k)
    }
}

/// The embedded store: one redb file.
///
/// Binding changes are appended to a journal table under a growing counter, so that a commit of
/// a few hundred leases dirties the few pages at the end of the journal. Written straight into the
/// bindings table (keyed by resource, and the allocator hands out resources all over the pool),
/// every lease of a commit landed in a page of its own: about one 4 KiB page written per lease
/// (measured with perf: the store thread took 44 % of the server's CPU under perfdhcp with
/// IA_NA+IA_PD, most of it copying, writing and syncing those pages).
///
/// The journal is folded into the bindings table a slice at a time, inside the ordinary
/// commits: the store keeps in memory each key that has an unfolded entry (with the counter of
/// its latest entry). Once more keys than a quarter of the table (at least `FOLD_MIN`) are
/// dirty, each commit folds the latest entry of the next few dirty keys in key order (as many
/// as the excess, at least 64, at most 256; only while more than twice that many keys are
/// dirty, as many as the commit writes, so that the journal stays bounded), going round
/// the key space like a sweep. Key order keeps the amortisation of a whole-journal fold: the
/// keys folded by one commit are neighbours, so each page of the table is written about once
/// per sweep, and the dirty keys between two sweeps are as many as a whole fold used to carry.
/// (A whole fold in one commit, as before, rewrote up to 25,000 leases at once and stalled the
/// Replies behind it for hundreds of milliseconds.)
///
/// Reading applies the journal over the table in order. That stays right at every point: a fold
/// writes a key's *latest* entry into the table, so replaying that entry (or older ones of the
/// same key, which the later one overrides) changes nothing. An entry may be deleted once its
/// key's latest entry is folded or it is not its key's latest: exactly the entries older than
/// the oldest latest entry of a dirty key, deleted from the front of the journal a bounded
/// number per commit. Fold, deletion and the commit's own changes are one transaction, so a
/// commit is exactly as durable and atomic as before.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    durable: bool,
    policy: FoldPolicy,
    /// The next journal key.
    next_entry: u64,
    /// Entries in the journal.
    journal_len: u64,
    /// Entries in the bindings table.
    bindings_len: u64,
    /// Every key with a journal entry not yet folded, and the journal key of its latest entry.
    /// After a restart every key in the journal counts as dirty: folding again is harmless.
    dirty: BTreeMap<MemKey, u64>,
    /// The journal keys in `dirty`; entries older than the first can be deleted.
    dirty_entries: BTreeSet<u64>,
    /// Where the next fold starts (inclusive): right after the last key folded, or after a
    /// restart the key of the oldest journal entry (folding it first lets the journal shrink
    /// even if restarts come faster than sweeps).
    resume: MemKey,
    /// The journal key of the oldest entry (if any): entries are deleted only from the front,
    /// so the journal holds exactly the keys `first_entry..next_entry`.
    first_entry: u64,
}

fn se(what: &str) -> impl Fn(&dyn std::fmt::Display) -> StoreError + '_ {
    move |e| StoreError(format!("{what}: {e}"))
}

/// A journal entry: 1 (put) or 0 (delete), the key length (u16, big endian), the key, and for a
/// put the value.
fn journal_entry(op: &Op) -> Result<Vec<u8>, StoreError> {
    let klen = u16::try_from(op.key.len())
        .map_err(|_| StoreError(format!("binding key of {} bytes", op.key.len())))?;
    let value = op.value.as_deref();
    let mut e = Vec::with_capacity(3 + op.key.len() + value.map_or(0, <[u8]>::len));
    e.push(u8::from(value.is_some()));
    e.extend_from_slice(&klen.to_be_bytes());
    e.extend_from_slice(&op.key);
    if let Some(v) = value {
        e.extend_from_slice(v);
    }
    Ok(e)
}

/// Decodes a journal entry into (key, value, or `None` for a delete).
fn parse_journal_entry(e: &[u8]) -> Result<(&[u8], Option<&[u8]>), StoreError> {
    let bad = |what: &str| StoreError(format!("journal entry of {} bytes: {what}", e.len()));
    let (&[tag, k0, k1], rest) = e.split_first_chunk::<3>().ok_or_else(|| bad("truncated"))?;
    let (key, value) = rest
        .split_at_checked(usize::from(u16::from_be_bytes([k0, k1])))
        .ok_or_else(|| bad("key longer than the entry"))?;
    match tag {
        1 => Ok((key, Some(value))),
        0 if value.is_empty() => Ok((key, None)),
        _ => Err(bad("bad tag")),
    }
}

impl RedbStore {
    /// Opens or creates the database at `path`. With `durable` false, commits skip fsync (tests
    /// and benchmarks of the non-durable mode only).
    pub fn open(path: &Path, durable: bool) -> Result<Self, StoreError> {
        Self::open_with(path, durable, FoldPolicy::DEFAULT)
    }

    fn open_with(path: &Path, durable: bool, policy: FoldPolicy) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError(format!("creating {}: {e}", dir.display())))?;
        }
        let db = Database::create(path)
            .map_err(|e| StoreError(format!("opening {}: {e}", path.display())))?;
        let mut store = Self {
            db,
            durable,
            policy,
            next_entry: 0,
            journal_len: 0,
            bindings_len: 0,
            dirty: BTreeMap::new(),
            dirty_entries: BTreeSet::new(),
            resume: MemKey::default(),
            first_entry: 0,
        };
        // Create every table so that reads never meet a missing one.
        let txn = store.db.begin_write().map_err(|e| se("begin")(&e))?;
        {
            let bindings = txn
                .open_table(BINDINGS)
                .map_err(|e| se("bindings table")(&e))?;
            txn.open_table(META).map_err(|e| se("meta table")(&e))?;
            let journal = txn
                .open_table(JOURNAL)
                .map_err(|e| se("journal table")(&e))?;
            store.bindings_len = bindings.len().map_err(|e| se("bindings table")(&e))?;
            for item in journal.iter().map_err(|e| se("journal iterate")(&e))? {
                let (n, e) = item.map_err(|e| se("journal read")(&e))?;
                let (key, _) = parse_journal_entry(e.value())?;
                if store.dirty.is_empty() {
                    store.resume = MemKey::new(key);
                    store.first_entry = n.value();
                }
                store.dirty.insert(MemKey::new(key), n.value());
                store.journal_len += 1;
                store.next_entry = n.value().saturating_add(1);
            }
            store.dirty_entries = store.dirty.values().copied().collect();
        }
        txn.commit().map_err(|e| se("commit")(&e))?;
        Ok(store)
    }

    /// Entries in the journal (folded or not, not yet deleted).
    pub fn journal_len(&self) -> u64 {
        self.journal_len
    }

    /// Keys with a journal entry not yet folded into the bindings table.
    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    /// How many keys a commit that leaves the journal `journal_len` long and writes the keys
    /// `written` folds.
    fn fold_step(&self, written: &BTreeMap<MemKey, u64>, journal_len: u64) -> usize {
        let new_keys = written
            .keys()
            .filter(|k| !self.dirty.contains_key(*k))
            .count();
        let target = self.policy.target(self.bindings_len);
        let journal = usize::try_from(journal_len).unwrap_or(usize::MAX);
        let dirty = self.dirty.len() + new_keys;
        let excess = dirty
            .saturating_sub(target)
            .max(journal.saturating_sub(target.saturating_mul(2)));
        // A burst of large commits leaves a debt that the smaller commits after it pay off;
        // only a store that stays behind (twice the target) folds as much as it writes.
        let cap = if dirty > target.saturating_mul(2) {
            self.policy.max_step.max(written.len())
        } else {
            self.policy.max_step
        };
        if excess == 0 {
            0
        } else {
            excess.max(self.policy.min_step).min(cap)
        }
    }

    /// The next `step` dirty keys from `resume` on, going round, with the journal keys of their
    /// latest entries; keys that this commit writes again stay dirty and are skipped.
    fn fold_slice(&self, step: usize, written: &BTreeMap<MemKey, u64>) -> Vec<(MemKey, u64)> {
        let from = &self.resume;
        self.dirty
            .range(from..)
            .chain(self.dirty.range(..from))
            .filter(|(k, _)| !written.contains_key(*k))
            .take(step)
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }

    /// The bindings table and the journal as stored (tests).
    #[cfg(test)]
    fn raw(&self) -> Result<RawTables, StoreError> {
        let txn = self.db.begin_read().map_err(|e| se("begin read")(&e))?;
        let table = txn.open_table(BINDINGS).map_err(|e| se("open table")(&e))?;
        let mut bindings = BTreeMap::new();
        for item in table.iter().map_err(|e| se("iterate")(&e))? {
            let (k, v) = item.map_err(|e| se("read")(&e))?;
            bindings.insert(k.value().to_vec(), v.value().to_vec());
        }
        let journal = txn
            .open_table(JOURNAL)
            .map_err(|e| se("journal table")(&e))?;
        let mut entries = Vec::new();
        for item in journal.iter().map_err(|e| se("journal iterate")(&e))? {
            let (n, e) = item.map_err(|e| se("journal read")(&e))?;
            let (key, value) = parse_journal_entry(e.value())?;
            entries.push((n.value(), key.to_vec(), value.map(<[u8]>::to_vec)));
        }
        Ok((bindings, entries))
    }
}

/// The bindings table and the journal entries (counter, key, value) in order (tests).
#[cfg(test)]
type RawTables = (
    BTreeMap<Vec<u8>, Vec<u8>>,
    Vec<(u64, Vec<u8>, Option<Vec<u8>>)>,
);

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
        // The journal's changes, oldest first, over the table.
        let journal = txn
            .open_table(JOURNAL)
            .map_err(|e| se("journal table")(&e))?;
        for item in journal.iter().map_err(|e| se("journal iterate")(&e))? {
            let (_, e) = item.map_err(|e| se("journal read")(&e))?;
            match parse_journal_entry(e.value())? {
                (key, Some(value)) => snap.bindings.insert(key.to_vec(), value.to_vec()),
                (key, None) => snap.bindings.remove(key),
            };
        }
        Ok(snap)
    }

    fn commit(&mut self, ops: &[Op]) -> Result<CommitStats, StoreError> {
        let mut txn = self.db.begin_write().map_err(|e| se("begin")(&e))?;
        txn.set_durability(if self.durable {
            Durability::Immediate
        } else {
            Durability::None
        });
        let (mut next_entry, mut first_entry) = (self.next_entry, self.first_entry);
        let (mut journal_len, mut bindings_len) = (self.journal_len, self.bindings_len);
        // This commit's binding keys, with the journal key of the last change of each.
        let mut written: BTreeMap<MemKey, u64> = BTreeMap::new();
        let mut stats = CommitStats::default();
        let slice;
        {
            let mut journal = txn
                .open_table(JOURNAL)
                .map_err(|e| se("journal table")(&e))?;
            let mut meta = txn.open_table(META).map_err(|e| se("meta table")(&e))?;
            for op in ops {
                match (op.table, &op.value) {
                    (Table::Bindings, _) => {
                        journal
                            .insert(next_entry, journal_entry(op)?.as_slice())
                            .map_err(|e| se("journal insert")(&e))?;
                        written.insert(MemKey::new(&op.key), next_entry);
                        next_entry += 1;
                        journal_len += 1;
                    }
                    (Table::Meta, Some(v)) => {
                        meta.insert(op.key.as_slice(), v.as_slice())
                            .map_err(|e| se("insert")(&e))?;
                    }
                    (Table::Meta, None) => {
                        meta.remove(op.key.as_slice())
                            .map_err(|e| se("remove")(&e))?;
                    }
                }
            }
            // Fold the next slice of dirty keys: each key's latest entry into the table.
            slice = self.fold_slice(self.fold_step(&written, journal_len), &written);
            if !slice.is_empty() {
                let mut bindings = txn
                    .open_table(BINDINGS)
                    .map_err(|e| se("bindings table")(&e))?;
                for (key, n) in &slice {
                    let entry = journal
                        .get(*n)
                        .map_err(|e| se("journal read")(&e))?
                        .ok_or_else(|| StoreError(format!("journal entry {n} is missing")))?;
                    match parse_journal_entry(entry.value())? {
                        (k, _) if MemKey::new(k) != *key => {
                            return Err(StoreError(format!(
                                "journal entry {n} is for key {}, expected {}",
                                hex::encode(k),
                                hex::encode(key.to_bytes())
                            )));
                        }
                        (k, Some(v)) => {
                            let old = bindings.insert(k, v).map_err(|e| se("insert")(&e))?;
                            bindings_len += u64::from(old.is_none());
                        }
                        (k, None) => {
                            let old = bindings.remove(k).map_err(|e| se("remove")(&e))?;
                            bindings_len = bindings_len.saturating_sub(u64::from(old.is_some()));
                        }
                    }
                }
                stats.folded = slice.len();
            }
            // Delete what no read needs any more: every entry older than the oldest latest
            // entry of a key that stays dirty. (Keys this commit writes get newer entries.)
            let folded: BTreeSet<u64> = slice.iter().map(|(_, n)| *n).collect();
            let keep_from = self
                .dirty_entries
                .iter()
                .find(|n| !folded.contains(n))
                .copied()
                .unwrap_or(self.next_entry);
            let limit = self.policy.max_trim.max(2 * written.len());
            // The journal is `first_entry..next_entry`: its front needs no lookup.
            let limit = u64::try_from(limit).unwrap_or(u64::MAX);
            let trim_to = keep_from.min(first_entry.saturating_add(limit));
            while first_entry < trim_to {
                let removed = journal
                    .remove(first_entry)
                    .map_err(|e| se("journal remove")(&e))?;
                if removed.is_some() {
                    stats.trimmed += 1;
                    journal_len -= 1;
                }
                first_entry += 1;
            }
        }
        txn.commit().map_err(|e| se("commit")(&e))?;
        // Only a committed transaction moves the counters and the dirty set.
        for (key, n) in &slice {
            self.dirty.remove(key);
            self.dirty_entries.remove(n);
        }
        for (key, n) in written {
            if let Some(old) = self.dirty.insert(key, n) {
                self.dirty_entries.remove(&old);
            }
            self.dirty_entries.insert(n);
        }
        if let Some((last, _)) = slice.last() {
            // The smallest key after `last`.
            self.resume = last.successor();
        }
        self.next_entry = next_entry;
        self.first_entry = first_entry;
        self.journal_len = journal_len;
        self.bindings_len = bindings_len;
        Ok(stats)
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
    fn commit(&mut self, ops: &[Op]) -> Result<CommitStats, StoreError> {
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
        Ok(CommitStats::default())
    }
}

/// A batch handed to the committer: every op of one turn of the event loop.
#[derive(Debug)]
struct Job {
    seq: u64,
    ops: Vec<Op>,
    /// Set for a batch nobody is waiting on promptly (see [`GroupCommitter::submit_deferrable`]):
    /// its commit may start up to this late to gather more, unless this many ops gather first.
    defer: Option<(Instant, usize)>,
}

/// How long a deferrable batch may wait for company before the store commits it.
///
/// A secondary's only writes in NORMAL are its partner's BNDUPDs, and only the BNDREPLYs wait
/// for them: nothing a client sees. Committed as they came (one durable commit per arrival
/// from the link, 400–700 commits/s at 2,000–3,000 leases/s) their fsyncs took half of what
/// the disk could do, and the primary's own commits, on which its Replies wait, took twice as
/// long as the same server's alone (1.1–1.4 ms against 0.6 ms, measured with the loop profile
/// on one machine with both partners on one disk). Waiting 10 ms made that at most 100
/// commits/s. 40 ms, with the early start below, at most 25: pair, IA_NA+IA_PD at 4,000
/// leases/s, three interleaved runs each, the secondary's CPU fell from 33–35 % to 28–30 % and
/// the benchmark's median from 12.8–27.5 ms to 9.2–9.9 ms (IA_NA at 2,000/s: 1.89–1.98 against
/// 1.81–1.93 ms). The partner sees its acknowledgements up to 40 ms later, inside its window of
/// unacknowledged updates (see [`GroupCommitter::submit_deferrable`]).
pub const DEFER_WINDOW: Duration = Duration::from_millis(40);

/// A deferred commit starts early once it carries this many ops (or fewer, as the caller of
/// [`GroupCommitter::submit_deferrable`] says).
pub const DEFER_MAX_OPS: usize = 512;

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
    /// The store's upkeep in the same commit (journal entries folded and deleted).
    pub stats: CommitStats,
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
                // Blocks for the first job, then takes whatever else queued up meanwhile; while
                // every job taken is deferrable, also what arrives until the first one's
                // deadline (a job that is not ends the wait: it and those before it go now).
                while let Ok(first) = jobs_rx.recv() {
                    let mut upto = first.seq;
                    let mut defer = first.defer;
                    ops.clear();
                    ops.extend(first.ops);
                    while ops.len() < max_batch {
                        let next = match defer {
                            Some((until, most)) if ops.len() < most => {
                                let left = until.saturating_duration_since(Instant::now());
                                jobs_rx.recv_timeout(left).ok()
                            }
                            _ => jobs_rx.try_recv().ok(),
                        };
                        let Some(job) = next else { break };
                        upto = job.seq;
                        defer = match (defer, job.defer) {
                            (Some((until, a)), Some((_, b))) => Some((until, a.min(b))),
                            _ => None,
                        };
                        ops.extend(job.ops);
                    }
                    let started = Instant::now();
                    let result = if ops.is_empty() {
                        Ok(CommitStats::default())
                    } else {
                        store.commit(&ops)
                    };
                    let took = started.elapsed();
                    metrics.observe_commit(took, ops.len());
                    let stats = result.as_ref().copied().unwrap_or_default();
                    let report = Committed {
                        upto,
                        result: result.map(|_| ()),
                        took,
                        ops: ops.len(),
                        stats,
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
        self.send(ops, None)
    }

    /// [`GroupCommitter::submit`] for a batch that nobody waits on promptly (a secondary's
    /// records of its partner's updates, which only hold back BNDREPLYs): its commit may wait up
    /// to [`DEFER_WINDOW`] for more batches to share it, unless `most_ops` (at most
    /// [`DEFER_MAX_OPS`]) gather first or an ordinary batch arrives (which then takes it along
    /// at once). Commits stay in sequence order either way.
    ///
    /// `most_ops` must stay well below the partner's window of unacknowledged updates (half of
    /// it, say): a batch that waited for more updates than the partner may send would hold
    /// the partner's BNDUPDs back for the whole window.
    pub fn submit_deferrable(&mut self, ops: Vec<Op>, most_ops: usize) -> Result<u64, StoreError> {
        let most = most_ops.clamp(1, DEFER_MAX_OPS);
        self.send(ops, Some((Instant::now() + DEFER_WINDOW, most)))
    }

    fn send(&mut self, ops: Vec<Op>, defer: Option<(Instant, usize)>) -> Result<u64, StoreError> {
        self.next_seq += 1;
        let seq = self.next_seq;
        match &self.jobs {
            Some(tx) if self.thread.is_some() => {
                tx.send(Job { seq, ops, defer })
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

    /// A small deterministic generator.
    struct Lcg(u32);

    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            self.0 >> 8
        }
    }

    /// Folds a few keys per commit as soon as 8 keys are dirty, so that nearly every commit of
    /// the tests below leaves a partly folded journal behind.
    const TINY: FoldPolicy = FoldPolicy {
        min_dirty: 8,
        min_step: 3,
        max_step: 5,
        max_trim: 7,
    };

    /// The bindings table with the journal replayed over it, oldest first or newest first.
    fn overlay(raw: &RawTables, newest_first: bool) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let (mut table, journal) = raw.clone();
        let mut entries: Vec<_> = journal.iter().collect();
        if newest_first {
            entries.reverse();
        }
        for (_, key, value) in entries {
            match value {
                Some(v) => table.insert(key.clone(), v.clone()),
                None => table.remove(key),
            };
        }
        table
    }

    /// 1 to 12 binding changes over 40 keys (a fifth of them deletes, every value new), and
    /// every third round a meta record.
    fn random_commit(rng: &mut Lcg, round: u32) -> Vec<Op> {
        let n = 1 + rng.next() % 12;
        let mut ops: Vec<Op> = (0..n)
            .map(|i| {
                let x = rng.next();
                Op {
                    table: Table::Bindings,
                    key: vec![b'k', (x % 40) as u8],
                    value: (!x.is_multiple_of(5)).then(|| format!("r{round}-{i}").into_bytes()),
                }
            })
            .collect();
        if round.is_multiple_of(3) {
            ops.push(Op {
                table: Table::Meta,
                key: b"m".to_vec(),
                value: Some(round.to_be_bytes().to_vec()),
            });
        }
        ops
    }

    #[test]
    fn partial_folds_read_back_like_a_plain_table_at_every_point() {
        for reopen_each_commit in [false, true] {
            let dir = std::env::temp_dir().join(format!(
                "dhcpv6-fold-test-{}-{reopen_each_commit}",
                std::process::id()
            ));
            let path = dir.join("leases.redb");
            let _ = std::fs::remove_dir_all(&dir);
            let mut mem = MemStore::default();
            // Commits without fsync (closing or reopening the database makes them durable),
            // so that the 420 commits and 126 reopens take seconds, not minutes.
            let mut s = RedbStore::open_with(&path, false, TINY).expect("open");
            let mut rng = Lcg(7);
            let (mut seen_partial, mut seen_order_matters) = (false, false);
            let (mut folded, mut trimmed, mut longest_journal) = (0, 0, 0);
            // Reopening costs two fsyncs: 120 rounds when the store is reopened after each.
            let rounds = if reopen_each_commit { 120 } else { 300 };
            for round in 0..rounds {
                let ops = random_commit(&mut rng, round);
                if round == 100 {
                    // A failing commit leaves nothing behind, not even its valid change.
                    let mut bad = ops.clone();
                    bad.push(put(&[0u8; 70_000], b"key too long for a journal entry"));
                    assert!(s.commit(&bad).is_err());
                    assert_eq!(
                        s.load().expect("load"),
                        mem.snapshot,
                        "after a failed commit"
                    );
                }
                let stats = s.commit(&ops).expect("commit");
                mem.commit(&ops).expect("mem commit");
                let keys: BTreeSet<&[u8]> = ops
                    .iter()
                    .filter(|o| o.table == Table::Bindings)
                    .map(|o| o.key.as_slice())
                    .collect();
                assert!(
                    stats.folded <= TINY.max_step.max(keys.len()),
                    "round {round}: {stats:?}"
                );
                assert!(
                    stats.trimmed <= TINY.max_trim.max(2 * keys.len()),
                    "round {round}: {stats:?}"
                );
                folded += stats.folded;
                trimmed += stats.trimmed;
                longest_journal = longest_journal.max(s.journal_len());

                let raw = s.raw().expect("raw");
                assert_eq!(overlay(&raw, false), mem.snapshot.bindings, "round {round}");
                assert_eq!(s.load().expect("load"), mem.snapshot, "round {round}");
                assert_eq!(s.journal_len(), raw.1.len() as u64, "round {round}");
                // A partial fold: the table holds the latest journal entry of some keys only.
                let latest: BTreeMap<&[u8], Option<&Vec<u8>>> = raw
                    .1
                    .iter()
                    .map(|(_, k, v)| (k.as_slice(), v.as_ref()))
                    .collect();
                let in_table = latest.iter().filter(|(k, v)| raw.0.get(**k) == **v).count();
                seen_partial |= in_table > 0 && in_table < latest.len();
                // The journal holds several changes of one key: a reader must replay it in order.
                seen_order_matters |= overlay(&raw, true) != mem.snapshot.bindings;

                if reopen_each_commit || round % 50 == 49 {
                    drop(s);
                    s = RedbStore::open_with(&path, false, TINY).expect("reopen");
                    assert_eq!(
                        s.load().expect("load"),
                        mem.snapshot,
                        "reopened after {round}"
                    );
                    assert_eq!(
                        s.journal_len(),
                        raw.1.len() as u64,
                        "reopened after {round}"
                    );
                }
            }
            assert!(seen_partial, "some commits left a partly folded journal");
            assert!(
                seen_order_matters,
                "the tests would see a reader replaying out of order"
            );
            assert!(
                folded > 0 && trimmed > 0,
                "folded {folded}, trimmed {trimmed}"
            );
            // About 6.5 entries per commit were written; folding and trimming keep a few dozen
            // (measured: at most 30, and 120 when reopened after every commit).
            assert!(longest_journal <= 150, "journal grew to {longest_journal}");
            drop(s);
            let mut s = RedbStore::open(&path, true).expect("reopen with the default policy");
            assert_eq!(s.load().expect("load"), mem.snapshot);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn default_policy_folds_a_bounded_slice_per_commit() {
        let dir = std::env::temp_dir().join(format!("dhcpv6-journal-test-{}", std::process::id()));
        let path = dir.join("leases.redb");
        let _ = std::fs::remove_dir_all(&dir);
        let mut mem = MemStore::default();
        let mut rng = Lcg(1);
        let (mut folded, mut keeping_pace) = (0, false);
        {
            let mut s = RedbStore::open(&path, false).expect("open");
            // 60 commits of 1000 changes over 80,000 keys: the dirty keys pass FOLD_MIN after
            // about 20 commits, from then on each commit folds at most 256, and once twice
            // FOLD_MIN are dirty, as many as it writes.
            for round in 0..60u32 {
                let ops: Vec<Op> = (0..1000)
                    .map(|_| {
                        let x = rng.next();
                        Op {
                            table: Table::Bindings,
                            key: (x % 80_000).to_be_bytes().to_vec(),
                            value: (!x.is_multiple_of(7))
                                .then(|| format!("v{round}-{x}").into_bytes()),
                        }
                    })
                    .collect();
                let behind = s.dirty_len() + 1000 > 2 * FOLD_MIN;
                let stats = s.commit(&ops).expect("commit");
                mem.commit(&ops).expect("mem commit");
                let cap = if behind { 1000 } else { 256 };
                assert!(stats.folded <= cap, "round {round}: {stats:?}");
                keeping_pace |= stats.folded > 256;
                folded += stats.folded;
                assert!(
                    s.dirty_len() <= 2 * FOLD_MIN + 1000,
                    "round {round}: {}",
                    s.dirty_len()
                );
            }
            assert!(
                folded > 0 && keeping_pace,
                "folded {folded}, kept pace {keeping_pace}"
            );
            assert_eq!(s.load().expect("load"), mem.snapshot);
        }
        let mut s = RedbStore::open(&path, true).expect("reopen");
        assert_eq!(s.load().expect("load"), mem.snapshot);
        // Journal keys go on after a reopen: a new change overrides the older ones.
        s.commit(&[put(&7u32.to_be_bytes(), b"last")])
            .expect("commit");
        mem.commit(&[put(&7u32.to_be_bytes(), b"last")])
            .expect("mem commit");
        drop(s);
        let mut s = RedbStore::open(&path, true).expect("reopen");
        assert_eq!(s.load().expect("load"), mem.snapshot);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// One commit of the measured phase of [`commit_cost`], a function of its own so that
    /// callgrind can count it alone (`--toggle-collect='*measured_commit*'`).
    #[inline(never)]
    fn measured_commit(s: &mut RedbStore, ops: &[Op]) -> CommitStats {
        s.commit(ops).expect("commit")
    }

    /// Commits 300 batches of 64 lease-sized puts over 100,000 address-shaped keys (so that
    /// folding is due, as on a loaded server), then `commits` measured batches of `batch` ops,
    /// and prints the time they took. Every 8th op is a delete.
    fn commit_cost(batch: usize, commits: usize) {
        let dir =
            std::env::temp_dir().join(format!("dhcpv6-commit-cost-{}-{batch}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = RedbStore::open(&dir.join("leases.redb"), false).expect("open");
        let mut rng = Lcg(3);
        let batch_of = |rng: &mut Lcg, n: usize| -> Vec<Op> {
            (0..n)
                .map(|_| {
                    let x = rng.next() % 100_000;
                    let mut key = vec![0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0];
                    key.extend_from_slice(&x.to_be_bytes());
                    let value = (!x.is_multiple_of(8)).then(|| {
                        let mut v = vec![1, 0];
                        v.extend_from_slice(&key[1..]);
                        v.extend((0..70u32).map(|i| (rng.next() >> (i % 16)) as u8));
                        v
                    });
                    Op {
                        table: Table::Bindings,
                        key,
                        value,
                    }
                })
                .collect()
        };
        for _ in 0..300 {
            let ops = batch_of(&mut rng, 64);
            s.commit(&ops).expect("commit");
        }
        let batches: Vec<Vec<Op>> = (0..commits).map(|_| batch_of(&mut rng, batch)).collect();
        let started = Instant::now();
        let (mut folded, mut trimmed) = (0, 0);
        for ops in &batches {
            let stats = measured_commit(&mut s, ops);
            folded += stats.folded;
            trimmed += stats.trimmed;
        }
        let took = started.elapsed();
        println!(
            "{commits} commits of {batch} ops: {took:?}, {:.2} us/op; folded {folded}, \
             trimmed {trimmed}, dirty {}, journal {}",
            took.as_secs_f64() * 1e6 / (commits * batch) as f64,
            s.dirty_len(),
            s.journal_len()
        );
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    #[ignore = "a measurement, not a check: run with --nocapture or under callgrind"]
    fn commit_cost_of_64_op_batches() {
        commit_cost(64, 2000);
    }

    #[test]
    #[ignore = "a measurement, not a check: run with --nocapture or under callgrind"]
    fn commit_cost_of_1_op_batches() {
        commit_cost(1, 10_000);
    }

    #[test]
    fn mem_keys_order_like_their_bytes_and_round_trip() {
        let mut rng = Lcg(11);
        // Short and long keys of bytes 0, 1 and 255, so that prefixes and padding meet.
        let keys: Vec<Vec<u8>> = (0..3000)
            .map(|_| {
                let len = (rng.next() % 31) as usize;
                (0..len)
                    .map(|_| [0, 1, 255][(rng.next() % 3) as usize])
                    .collect()
            })
            .collect();
        for pair in keys.windows(2) {
            let (a, b) = (MemKey::new(&pair[0]), MemKey::new(&pair[1]));
            assert_eq!(a.cmp(&b), pair[0].cmp(&pair[1]), "{pair:?}");
            assert_eq!(a.to_bytes(), pair[0]);
            let mut next = pair[0].clone();
            next.push(0);
            assert_eq!(a.successor(), MemKey::new(&next));
            assert!(a < a.successor());
        }
    }

    #[test]
    fn journal_entries_round_trip_and_reject_garbage() {
        let put_op = put(b"key", b"value");
        let del = Op {
            table: Table::Bindings,
            key: b"key".to_vec(),
            value: None,
        };
        let e = journal_entry(&put_op).expect("entry");
        assert_eq!(
            parse_journal_entry(&e).expect("parse"),
            (b"key".as_slice(), Some(b"value".as_slice()))
        );
        let e = journal_entry(&del).expect("entry");
        assert_eq!(
            parse_journal_entry(&e).expect("parse"),
            (b"key".as_slice(), None)
        );
        assert!(parse_journal_entry(&[1, 0]).is_err());
        assert!(parse_journal_entry(&[1, 0, 9, b'k']).is_err());
        assert!(parse_journal_entry(&[0, 0, 1, b'k', b'v']).is_err());
        assert!(parse_journal_entry(&[2, 0, 0]).is_err());
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

    /// Deferrable batches share one commit (they are held for company up to the window), an
    /// ordinary batch takes the deferred ones along at once, and every report stays in order.
    #[tokio::test]
    async fn deferrable_batches_wait_for_company_and_an_ordinary_one_ends_the_wait() {
        let metrics = Arc::new(Metrics::default());
        let (mut gc, mut done) = GroupCommitter::start(MemStore::default(), 1000, metrics);
        // Three deferrable batches in quick succession: one commit covers all three.
        let started = Instant::now();
        for i in 0..3u32 {
            gc.submit_deferrable(vec![put(&i.to_be_bytes(), b"v")], DEFER_MAX_OPS)
                .expect("submit");
        }
        let c = done.recv().await.expect("report");
        assert_eq!(
            (c.upto, c.ops),
            (3, 3),
            "one commit for the three deferred batches"
        );
        assert!(c.result.is_ok());
        assert!(
            started.elapsed() >= DEFER_WINDOW,
            "a deferred batch is held for the window when nothing else comes"
        );
        // Deferred, then ordinary: the ordinary one does not wait out the window, and the
        // deferred one is committed with it or before it.
        gc.submit_deferrable(vec![put(b"d", b"v")], DEFER_MAX_OPS)
            .expect("submit");
        let last = gc.submit(vec![put(b"o", b"v")]).expect("submit");
        let mut seen = 3;
        let mut ops = 0;
        while seen < last {
            let c = done.recv().await.expect("report");
            assert!(c.upto > seen && c.result.is_ok());
            seen = c.upto;
            ops += c.ops;
        }
        assert_eq!((seen, ops), (5, 2));
        // Past DEFER_MAX_OPS the deferred batch goes without waiting for the window.
        let big: Vec<Op> = (0..DEFER_MAX_OPS as u32)
            .map(|i| put(&i.to_be_bytes(), b"w"))
            .collect();
        gc.submit_deferrable(big, DEFER_MAX_OPS).expect("submit");
        gc.submit_deferrable(vec![put(b"x", b"v")], DEFER_MAX_OPS)
            .expect("submit");
        let mut seen_ops = 0;
        while seen < 7 {
            let c = done.recv().await.expect("report");
            assert!(c.upto > seen && c.result.is_ok());
            seen = c.upto;
            seen_ops += c.ops;
        }
        assert_eq!(seen_ops, DEFER_MAX_OPS + 1);
        // A smaller bound from the caller (a small partner window) starts the commit as soon as
        // that many gather, without waiting for the window.
        let started = Instant::now();
        gc.submit_deferrable(vec![put(b"s1", b"v")], 2)
            .expect("submit");
        gc.submit_deferrable(vec![put(b"s2", b"v")], 2)
            .expect("submit");
        let c = done.recv().await.expect("report");
        assert_eq!((c.upto, c.ops), (9, 2));
        assert!(
            started.elapsed() < DEFER_WINDOW,
            "two ops reached the caller's bound of two"
        );
        gc.shutdown(Duration::from_secs(5));
    }
}
