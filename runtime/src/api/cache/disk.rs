//! The Cache API's disk tier: every stored entry is also written to a
//! file (write-through), so an entry the memory tier evicted (or never had
//! room for) is still served, and the cache survives a restart of the
//! server, as a point of presence's cache should.
//!
//! Files are named by a keyed hash (SHA-256 over a per-directory secret
//! and the entry's key, which holds the worker's name, the cache name and
//! the URL) and a generation number, never by anything a tenant wrote.
//! A file is written under a temporary name and renamed, and ends with a
//! checksum of everything before it: a torn, truncated or corrupted file
//! reads as a miss and is removed. The tier is bounded in bytes (the sum
//! of its files' sizes) and evicts the least recently used entry first.
//!
//! All file I/O runs on the shared blocking pool (`crate::blocking`), never
//! on an isolate's thread. The index (which entries exist, their sizes,
//! recency and expiry) is in memory and answers the isolate at once.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::{Stored, Variants};

/// Where the disk tier lives and how large it may grow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskConfig {
    /// The directory holding the entries (created if missing).
    pub dir: PathBuf,
    /// Bytes of entry files held at most.
    pub bytes: u64,
}

/// The disk tier could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cache.disk_dir {}: {source}", path.display())]
pub struct DiskError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

const MAGIC: &[u8; 4] = b"BRKC";
/// The file format's version; files of any other version are removed when
/// the tier is opened.
const VERSION: u8 = 1;
/// The name of the file holding the hashing secret.
const SECRET_FILE: &str = "secret";
/// The file a server holds locked while it uses the directory: two
/// servers sharing one would evict and remove each other's files.
const LOCK_FILE: &str = "lock";
/// How long opening may spend indexing existing files; files left when it
/// runs out are removed in the background rather than delay the start.
const INDEX_BUDGET: Duration = Duration::from_secs(20);
/// The fixed-size start of a file: magic, version, latest expiry (Unix
/// milliseconds), length of the worker's name.
const HEADER_BYTES: usize = 4 + 1 + 8 + 2;

/// The hash naming an entry's file.
type Name = [u8; 32];

struct Entry {
    /// Part of the file's name: each write of a key gets a new one, so a
    /// slow write can never overwrite a newer one.
    generation: u64,
    bytes: u64,
    /// Recency: the position of this entry in [`State::recency`].
    tick: u64,
    /// When the last of its variants expires.
    expires: SystemTime,
    worker: Arc<str>,
    /// The entry, until its file is written (so a match right after a put
    /// finds it even if the memory tier had no room for it).
    pending: Option<Variants>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Name, Entry>,
    recency: BTreeMap<u64, Name>,
    tick: u64,
    bytes: u64,
    next_generation: u64,
}

/// What the index says about a key.
pub(super) enum Lookup {
    Absent,
    /// Not yet on disk: here it is.
    Pending(Variants),
    /// In a file: read it with [`DiskTier::read`].
    OnDisk,
}

/// The disk tier.
pub(super) struct DiskTier {
    dir: PathBuf,
    bound: u64,
    secret: [u8; 32],
    state: Mutex<State>,
    /// Held (locked) for as long as the tier is open.
    _lock: std::fs::File,
}

impl DiskTier {
    /// Opens (creating) the directory and indexes the entries in it.
    pub(super) fn open(config: &DiskConfig) -> Result<DiskTier, DiskError> {
        let dir = config.dir.clone();
        let error = |source| DiskError { path: dir.clone(), source };
        // Tenants' responses: readable by this user only.
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(error)?;
        let lock = lock_directory(&dir).map_err(error)?;
        let (secret, fresh) = load_secret(&dir).map_err(error)?;
        let tier = DiskTier {
            dir: dir.clone(),
            bound: config.bytes,
            secret,
            state: Mutex::new(State::default()),
            _lock: lock,
        };
        let (indexed, removed) = tier.index(fresh).map_err(error)?;
        tracing::info!(dir = %dir.display(), entries = indexed, removed, bytes = tier.lock().bytes, "Cache API disk tier opened");
        Ok(tier)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements; a panic elsewhere
        // while it was held does not make it unusable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn name(&self, key: &str) -> Name {
        let mut hash = Sha256::new();
        hash.update(self.secret);
        hash.update(key.as_bytes());
        hash.finalize().into()
    }

    fn path(&self, name: &Name, generation: u64) -> PathBuf {
        self.dir.join(file_name(name, generation))
    }

    /// Reads the directory: entry files of this format are indexed (least
    /// recently written first), anything else of ours is removed. With a
    /// fresh secret no existing entry can be found again, so all go.
    fn index(&self, fresh_secret: bool) -> std::io::Result<(usize, usize)> {
        let deadline = Instant::now() + INDEX_BUDGET;
        let mut found: Vec<(SystemTime, Name, u64, u64, SystemTime, String)> = Vec::new();
        let mut doomed: Vec<PathBuf> = Vec::new();
        let mut late: Vec<PathBuf> = Vec::new();
        let now = SystemTime::now();
        for item in std::fs::read_dir(&self.dir)? {
            let item = item?;
            let path = item.path();
            let file = item.file_name();
            let Some(file) = file.to_str() else { continue };
            if file == SECRET_FILE || file == LOCK_FILE {
                continue;
            }
            let Some((name, generation, temporary)) = parse_file_name(file) else {
                tracing::warn!(file = %path.display(), "Cache API disk tier: ignoring a file that is not the cache's");
                continue;
            };
            if temporary || fresh_secret {
                doomed.push(path);
                continue;
            }
            if Instant::now() > deadline {
                late.push(path);
                continue;
            }
            match read_header(&path) {
                Some((expires, worker)) if expires > now => {
                    let metadata = item.metadata()?;
                    let written = metadata.modified().unwrap_or(UNIX_EPOCH);
                    found.push((written, name, generation, metadata.len(), expires, worker));
                }
                _ => doomed.push(path),
            }
        }
        found.sort_by_key(|(written, _, generation, ..)| (*written, *generation));
        let mut state = self.lock();
        for (_, name, generation, bytes, expires, worker) in found {
            state.next_generation = state.next_generation.max(generation + 1);
            let tick = state.tick;
            state.tick += 1;
            let entry = Entry { generation, bytes, tick, expires, worker: worker.into(), pending: None };
            state.recency.insert(tick, name);
            state.bytes += bytes;
            if let Some(older) = state.entries.insert(name, entry) {
                // Two generations of one key (a crash between writing the
                // new one and removing the old): the later write wins.
                state.recency.remove(&older.tick);
                state.bytes -= older.bytes;
                doomed.push(self.path(&name, older.generation));
            }
        }
        // The bound may have shrunk since the files were written.
        doomed.extend(self.evict(&mut state, 0));
        let indexed = state.entries.len();
        drop(state);
        let removed = doomed.len();
        for path in doomed {
            let _ = std::fs::remove_file(path);
        }
        if !late.is_empty() {
            tracing::warn!(files = late.len(), "Cache API disk tier: indexing ran out of time; removing the rest");
            std::thread::spawn(move || late.into_iter().for_each(|path| drop(std::fs::remove_file(path))));
        }
        Ok((indexed, removed))
    }

    /// Removes least recently used entries until `room` more bytes fit;
    /// returns the files to remove.
    fn evict(&self, state: &mut State, room: u64) -> Vec<PathBuf> {
        let mut files = Vec::new();
        while state.bytes + room > self.bound {
            let Some((_, name)) = state.recency.pop_first() else { break };
            if let Some(entry) = state.entries.remove(&name) {
                state.bytes -= entry.bytes;
                // A pending write finds its entry gone and removes its file.
                if entry.pending.is_none() {
                    files.push(self.path(&name, entry.generation));
                }
            }
        }
        files
    }

    /// Takes `name` out of the index; its file (if written) is returned.
    fn take(&self, state: &mut State, name: &Name) -> Option<(Entry, Option<PathBuf>)> {
        let entry = state.entries.remove(name)?;
        state.recency.remove(&entry.tick);
        state.bytes -= entry.bytes;
        let file = entry.pending.is_none().then(|| self.path(name, entry.generation));
        Some((entry, file))
    }

    /// What the index knows of `key`, marking it recently used.
    pub(super) fn lookup(&self, key: &str) -> Lookup {
        let name = self.name(key);
        let mut state = self.lock();
        match state.entries.get(&name) {
            None => return Lookup::Absent,
            Some(entry) if entry.expires <= SystemTime::now() => {
                let file = self.take(&mut state, &name).and_then(|(_, file)| file);
                drop(state);
                remove_later(file.into_iter().collect());
                return Lookup::Absent;
            }
            Some(_) => {}
        }
        let tick = state.tick;
        state.tick += 1;
        let State { entries, recency, .. } = &mut *state;
        let Some(entry) = entries.get_mut(&name) else {
            return Lookup::Absent;
        };
        recency.remove(&std::mem::replace(&mut entry.tick, tick));
        recency.insert(tick, name);
        match &entry.pending {
            Some(variants) => Lookup::Pending(variants.clone()),
            None => Lookup::OnDisk,
        }
    }

    /// Stores `variants` as the entry of `key` (of `worker`): indexed at
    /// once, written in the background. An entry larger than the whole
    /// tier is not kept (and the older one is dropped).
    pub(super) fn put(&'static self, worker: &str, key: String, variants: Variants) {
        let name = self.name(&key);
        let bytes = encoded_len(worker, &key, &variants);
        let expires = variants.iter().map(|stored| system_time(stored.expires)).max().unwrap_or(UNIX_EPOCH);
        let mut state = self.lock();
        let mut files: Vec<PathBuf> = self.take(&mut state, &name).and_then(|(_, file)| file).into_iter().collect();
        if bytes > self.bound {
            drop(state);
            remove_later(files);
            return;
        }
        files.extend(self.evict(&mut state, bytes));
        let generation = state.next_generation;
        state.next_generation += 1;
        let tick = state.tick;
        state.tick += 1;
        state.recency.insert(tick, name);
        state.bytes += bytes;
        let worker: Arc<str> = worker.into();
        let entry = Entry { generation, bytes, tick, expires, worker: worker.clone(), pending: Some(variants.clone()) };
        state.entries.insert(name, entry);
        drop(state);
        crate::blocking::spawn_blocking(move || {
            for file in files {
                let _ = std::fs::remove_file(file);
            }
            let path = self.path(&name, generation);
            let written = write_atomically(&path, &encode(&worker, &key, &variants));
            let mut state = self.lock();
            let current = state.entries.get_mut(&name).filter(|entry| entry.generation == generation);
            match (written, current) {
                (Ok(()), Some(entry)) => entry.pending = None,
                (Ok(()), None) => {
                    // Deleted, replaced or evicted while it was written.
                    drop(state);
                    let _ = std::fs::remove_file(&path);
                }
                (Err(error), current) => {
                    let current = current.is_some();
                    if current {
                        self.take(&mut state, &name);
                    }
                    drop(state);
                    tracing::warn!(%error, file = %path.display(), "Cache API disk tier: cannot write an entry");
                }
            }
        });
    }

    /// Reads the entry of `key` from its file: `None` if there is none, it
    /// has expired, or the file is unreadable or corrupt (then it is
    /// removed).
    pub(super) async fn read(&'static self, key: &str) -> Option<Vec<Arc<Stored>>> {
        let name = self.name(key);
        let generation = {
            let state = self.lock();
            let entry = state.entries.get(&name)?;
            if let Some(variants) = &entry.pending {
                return Some(variants.as_ref().clone());
            }
            entry.generation
        };
        let path = self.path(&name, generation);
        let key = key.to_owned();
        let read = crate::blocking::spawn_blocking(move || {
            let bytes = std::fs::read(&path).ok()?;
            decode(&bytes, &key)
        })
        .await
        .ok()
        .flatten();
        let mut state = self.lock();
        let current = state.entries.get(&name).is_some_and(|entry| entry.generation == generation);
        if !current {
            // Replaced or deleted while it was read: the answer is stale.
            return None;
        }
        if read.is_none() {
            let file = self.take(&mut state, &name).and_then(|(_, file)| file);
            drop(state);
            tracing::warn!(file = ?file, "Cache API disk tier: an unreadable or corrupt entry was removed");
            remove_later(file.into_iter().collect());
            return None;
        }
        drop(state);
        read.filter(|variants| !variants.is_empty())
    }

    /// Forgets the entry of `key`; true if it had one that had not expired.
    pub(super) fn remove(&self, key: &str) -> bool {
        let name = self.name(key);
        let mut state = self.lock();
        let Some((entry, file)) = self.take(&mut state, &name) else {
            return false;
        };
        drop(state);
        remove_later(file.into_iter().collect());
        entry.expires > SystemTime::now()
    }

    /// Forgets every entry of `worker`.
    pub(super) fn purge_worker(&self, worker: &str) -> usize {
        self.purge_where(|owner| owner == worker)
    }

    /// Forgets every entry whose worker `doomed` names.
    pub(super) fn purge_where(&self, doomed: impl Fn(&str) -> bool) -> usize {
        let mut state = self.lock();
        let names: Vec<Name> =
            state.entries.iter().filter(|(_, entry)| doomed(&entry.worker)).map(|(name, _)| *name).collect();
        let files: Vec<PathBuf> =
            names.iter().filter_map(|name| self.take(&mut state, name).and_then(|(_, file)| file)).collect();
        drop(state);
        remove_later(files);
        names.len()
    }

    /// Bytes of entries indexed now.
    pub(super) fn bytes(&self) -> u64 {
        self.lock().bytes
    }
}

/// Removes files on the blocking pool.
fn remove_later(files: Vec<PathBuf>) {
    if files.is_empty() {
        return;
    }
    crate::blocking::spawn_blocking(move || {
        for file in files {
            let _ = std::fs::remove_file(file);
        }
    });
}

/// Locks the directory for this process, or says that another holds it.
fn lock_directory(dir: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "another brink process is using this directory (each server needs its own disk_dir)",
        )),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// The directory's hashing secret, created (with `true`) if missing.
fn load_secret(dir: &Path) -> std::io::Result<([u8; 32], bool)> {
    let path = dir.join(SECRET_FILE);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut secret = [0; 32];
            secret.copy_from_slice(&bytes);
            return Ok((secret, false));
        }
        Ok(_) => tracing::warn!(file = %path.display(), "Cache API disk tier: replacing a malformed secret"),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut secret = [0; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
    write_atomically(&path, &secret)?;
    Ok((secret, true))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let written = std::fs::File::create(&temporary).and_then(|mut file| file.write_all(bytes));
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    Ok(())
}

fn file_name(name: &Name, generation: u64) -> String {
    let mut text = String::with_capacity(64 + 17);
    for byte in name {
        text.push_str(&format!("{byte:02x}"));
    }
    text.push_str(&format!("-{generation:016x}"));
    text
}

/// `(name, generation, is a temporary file)` of a file name of ours.
fn parse_file_name(file: &str) -> Option<(Name, u64, bool)> {
    let (file, temporary) = match file.strip_suffix(".tmp") {
        Some(file) => (file, true),
        None => (file, false),
    };
    let (hash, generation) = file.split_once('-')?;
    if hash.len() != 64 || generation.len() != 16 {
        return None;
    }
    let mut name = [0; 32];
    for (index, byte) in name.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hash.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some((name, u64::from_str_radix(generation, 16).ok()?, temporary))
}

/// The latest expiry and the worker's name from a file's start, if it is
/// of this format's version.
fn read_header(path: &Path) -> Option<(SystemTime, String)> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut header = [0; HEADER_BYTES];
    file.read_exact(&mut header).ok()?;
    if &header[..4] != MAGIC || header[4] != VERSION {
        return None;
    }
    let expires = UNIX_EPOCH + Duration::from_millis(u64::from_le_bytes(header[5..13].try_into().ok()?));
    let mut worker = vec![0; usize::from(u16::from_le_bytes([header[13], header[14]]))];
    file.read_exact(&mut worker).ok()?;
    Some((expires, String::from_utf8(worker).ok()?))
}

fn system_time(instant: Instant) -> SystemTime {
    let now = Instant::now();
    match instant.checked_duration_since(now) {
        Some(left) => SystemTime::now().checked_add(left).unwrap_or(UNIX_EPOCH + Duration::from_secs(1 << 40)),
        None => SystemTime::now() - now.saturating_duration_since(instant),
    }
}

fn instant(time: SystemTime) -> Option<Instant> {
    let left = time.duration_since(SystemTime::now()).ok()?;
    Instant::now().checked_add(left)
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|since| since.as_millis() as u64).unwrap_or(0)
}

fn text_len(text: &str) -> u64 {
    4 + text.len() as u64
}

/// The size of [`encode`]'s output, computed without encoding.
fn encoded_len(worker: &str, key: &str, variants: &[Arc<Stored>]) -> u64 {
    let mut len = HEADER_BYTES as u64 + worker.len() as u64 + text_len(key) + 2 + 32;
    for stored in variants {
        len += 8 + 2 + 2 + 2 + 8 + stored.body.len() as u64;
        len += stored.headers.iter().map(|(name, value)| text_len(name) + text_len(value)).sum::<u64>();
        len += stored
            .vary
            .iter()
            .map(|(name, value)| text_len(name) + 1 + value.as_deref().map_or(0, text_len))
            .sum::<u64>();
    }
    len
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// An entry's file: the header, the key, each variant (expiry, status,
/// headers, Vary values, body), then a SHA-256 of all of it.
fn encode(worker: &str, key: &str, variants: &[Arc<Stored>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::try_from(encoded_len(worker, key, variants)).unwrap_or(0));
    let expires = variants.iter().map(|stored| system_time(stored.expires)).max().unwrap_or(UNIX_EPOCH);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&millis(expires).to_le_bytes());
    out.extend_from_slice(&(worker.len() as u16).to_le_bytes());
    out.extend_from_slice(worker.as_bytes());
    put_text(&mut out, key);
    out.extend_from_slice(&(variants.len() as u16).to_le_bytes());
    for stored in variants {
        out.extend_from_slice(&millis(system_time(stored.expires)).to_le_bytes());
        out.extend_from_slice(&stored.status.to_le_bytes());
        out.extend_from_slice(&(stored.headers.len() as u16).to_le_bytes());
        for (name, value) in &stored.headers {
            put_text(&mut out, name);
            put_text(&mut out, value);
        }
        out.extend_from_slice(&(stored.vary.len() as u16).to_le_bytes());
        for (name, value) in &stored.vary {
            put_text(&mut out, name);
            match value {
                Some(value) => {
                    out.push(1);
                    put_text(&mut out, value);
                }
                None => out.push(0),
            }
        }
        out.extend_from_slice(&(stored.body.len() as u64).to_le_bytes());
        out.extend_from_slice(&stored.body);
    }
    let checksum: [u8; 32] = Sha256::digest(&out).into();
    out.extend_from_slice(&checksum);
    out
}

/// Reads [`encode`]'s output back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.0.len() < len {
            return None;
        }
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(taken)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn text(&mut self) -> Option<String> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        String::from_utf8(self.take(usize::try_from(len).ok()?)?.to_vec()).ok()
    }
}

/// The unexpired variants in a file, if it is intact, of this version, and
/// holds `key` (a hash collision, however unlikely, is a miss).
fn decode(bytes: &[u8], key: &str) -> Option<Vec<Arc<Stored>>> {
    let (content, checksum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    let computed: [u8; 32] = Sha256::digest(content).into();
    if computed.as_slice() != checksum {
        return None;
    }
    let mut reader = Reader(content);
    if reader.take(4)? != MAGIC || reader.take(1)? != [VERSION] {
        return None;
    }
    reader.u64()?;
    let worker_len = reader.u16()?;
    reader.take(usize::from(worker_len))?;
    if reader.text()? != key {
        return None;
    }
    let count = reader.u16()?;
    let mut variants = Vec::new();
    for _ in 0..count {
        let expires = UNIX_EPOCH + Duration::from_millis(reader.u64()?);
        let status = reader.u16()?;
        let mut headers = Vec::new();
        for _ in 0..reader.u16()? {
            headers.push((reader.text()?, reader.text()?));
        }
        let mut vary = Vec::new();
        for _ in 0..reader.u16()? {
            let name = reader.text()?;
            let value = match reader.take(1)? {
                [1] => Some(reader.text()?),
                _ => None,
            };
            vary.push((name, value));
        }
        let len = usize::try_from(reader.u64()?).ok()?;
        let body = bytes::Bytes::copy_from_slice(reader.take(len)?);
        if let Some(expires) = instant(expires) {
            variants.push(Arc::new(Stored { status, headers, body, expires, vary }));
        }
    }
    reader.0.is_empty().then_some(variants)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: &str, vary: Option<&str>) -> Arc<Stored> {
        Arc::new(Stored {
            status: 200,
            headers: vec![("etag".into(), "\"a\"".into())],
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
            expires: Instant::now() + Duration::from_secs(60),
            vary: vary.map(|value| vec![("accept".to_string(), Some(value.to_string()))]).unwrap_or_default(),
        })
    }

    #[test]
    fn entries_round_trip_and_damage_is_a_miss() {
        let variants = vec![stored("hello", Some("text/html")), stored("", None)];
        let bytes = encode("w", "key", &variants);
        assert_eq!(bytes.len() as u64, encoded_len("w", "key", &variants));
        let back = decode(&bytes, "key").expect("intact");
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].body, variants[0].body);
        assert_eq!(back[0].vary, variants[0].vary);
        assert_eq!(back[0].headers, variants[0].headers);
        assert!(decode(&bytes, "other key").is_none(), "a different key");
        assert!(decode(&bytes[..bytes.len() - 1], "key").is_none(), "truncated");
        let mut flipped = bytes.clone();
        flipped[30] ^= 1;
        assert!(decode(&flipped, "key").is_none(), "corrupted");
        assert!(decode(&[], "key").is_none());
    }

    /// A fresh directory under the system's temporary one.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("brink-cache-disk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn open(dir: &Path, bytes: u64) -> &'static DiskTier {
        Box::leak(Box::new(DiskTier::open(&DiskConfig { dir: dir.to_path_buf(), bytes }).expect("open")))
    }

    async fn settle(tier: &DiskTier) {
        for _ in 0..200 {
            if tier.lock().entries.values().all(|entry| entry.pending.is_none()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("writes did not finish");
    }

    fn files(dir: &Path) -> Vec<u64> {
        std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name() != SECRET_FILE && entry.file_name() != LOCK_FILE)
            .filter_map(|entry| Some(entry.metadata().ok()?.len()))
            .collect()
    }

    #[tokio::test]
    async fn the_bound_holds_the_index_survives_reopening_and_purges_reach_the_files() {
        let dir = scratch("bound");
        let tier = open(&dir, 10_000);
        for i in 0..20 {
            tier.put(if i % 2 == 0 { "a" } else { "b" }, format!("key{i}"), Arc::new(vec![stored(&"x".repeat(1000), None)]));
            assert!(tier.bytes() <= 10_000);
        }
        settle(tier).await;
        // An entry evicted while its write was still under way is out of
        // the index at once; its writer removes the file when it is done,
        // which on a busy machine can be after `settle`.
        let mut sizes = files(&dir);
        for _ in 0..500 {
            if sizes.iter().sum::<u64>() <= 10_000 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            sizes = files(&dir);
        }
        assert!(sizes.iter().sum::<u64>() <= 10_000 && sizes.len() >= 5, "{sizes:?}");
        assert!(matches!(tier.lookup("key0"), Lookup::Absent), "the oldest went first");
        assert!(matches!(tier.lookup("key19"), Lookup::OnDisk));
        assert_eq!(tier.read("key19").await.expect("read back")[0].body.len(), 1000);
        // A second server cannot open the directory while this one has it.
        let refused = DiskTier::open(&DiskConfig { dir: dir.clone(), bytes: 10_000 }).err().expect("a second open refused");
        assert!(refused.to_string().contains("another brink process is using this directory"), "{refused}");
        // Reopened (as after a restart, which lets go of the lock): the
        // same entries, found again.
        tier._lock.unlock().expect("unlock");
        let again = open(&dir, 10_000);
        assert_eq!(again.bytes(), tier.bytes());
        assert!(matches!(again.lookup("key19"), Lookup::OnDisk));
        let purged = again.purge_worker("b");
        assert_eq!(purged, sizes.len() / 2 + sizes.len() % 2, "b put the odd keys, the last one too");
        assert!(matches!(again.lookup("key19"), Lookup::Absent));
        assert!(again.remove("key18"));
        assert!(!again.remove("key18"));
        // What is left: a's entries but key18, in files as in the index.
        let left = sizes.len() - purged - 1;
        for _ in 0..200 {
            if files(&dir).len() == left {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(files(&dir).len(), left, "{:?}", files(&dir));
        assert_eq!(again.lock().entries.len(), left);
        // An entry larger than the whole tier is not kept.
        again.put("a", "huge".into(), Arc::new(vec![stored(&"x".repeat(20_000), None)]));
        assert!(matches!(again.lookup("huge"), Lookup::Absent));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_names_parse_back() {
        let name = [0xab; 32];
        let file = file_name(&name, 7);
        assert_eq!(parse_file_name(&file), Some((name, 7, false)));
        assert_eq!(parse_file_name(&format!("{file}.tmp")), Some((name, 7, true)));
        assert_eq!(parse_file_name("secret"), None);
        assert_eq!(parse_file_name("../x-0000000000000001"), None);
    }
}
