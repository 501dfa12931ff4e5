//! The supervisor: one watchdog thread that enforces the CPU limit of every
//! isolate in the process, and the per-isolate [`IsolateWatch`] it reads.
//!
//! The isolate thread marks the start and end of each *turn* (one
//! uninterrupted run of JavaScript) with a few atomic stores, and reads its
//! own CPU clock around the turn so the request context can charge it
//! (`crate::context`). The watchdog ticks every few milliseconds: a turn it
//! sees twice is measured with the isolate thread's CPU clock
//! (`pthread_getcpuclockid`) and terminated once it has used more CPU than
//! the turn's budget (what its requests have left). Time the thread spends
//! blocked does not count toward CPU, but a turn that lasts longer than the
//! wall-clock limit while mostly idle is stuck (blocked in native code) and
//! is terminated too.
//!
//! Termination sticks: the engine may swallow one termination (a catchable
//! error, a microtask flood that keeps re-queueing jobs), so the watchdog
//! terminates a terminated isolate again on every tick for as long as it is
//! still running JavaScript. The isolate thread then stops serving and exits.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use deno_core::v8;

use crate::limits::Limit;

const TICK: Duration = Duration::from_millis(5);

/// CPU a single turn may use at normal priority. A turn that runs longer
/// is a CPU-bound worker (or a loop waiting for its CPU limit): its thread
/// moves to the idle scheduling class, so that on a busy machine the short
/// turns of every other tenant run first (docs/architecture.md).
const DEMOTE_AFTER_NS: u64 = 2_000_000;

/// How long a demoted turn runs before it offers its core to whatever
/// normal-class thread waits for it (`sched_yield`). A thread in the idle
/// class that the kernel does pick (it gets a small share even next to busy
/// threads) keeps its core until the next scheduler tick, 4 ms at HZ=250,
/// unless a normal-class thread *wakes*; a neighbour's isolate that is
/// already busy does not wake, so it used to wait that tick out.
const DEMOTED_TURN_YIELDS_EVERY_NS: u64 = 250_000;

/// How long a worker's isolate terminations count as recent.
const STRIKES_REMEMBERED_FOR: Duration = Duration::from_secs(10);

/// Recent terminations from which a worker's next isolate starts at the
/// lowest priority, and from which its replacement is delayed.
const DEMOTE_FROM_START_AFTER: u32 = 2;
const DELAY_REPLACEMENT_AFTER: u32 = 3;
const FIRST_REPLACEMENT_DELAY: Duration = Duration::from_millis(100);
const MAX_REPLACEMENT_DELAY: Duration = Duration::from_millis(1600);

/// A worker's recent isolate terminations for the CPU or memory limit.
///
/// Every termination costs the process a fresh blank isolate (~25 ms of CPU)
/// plus the first milliseconds of each looping turn before the watchdog
/// demotes it. A worker whose every request runs into its limit would make
/// its neighbours pay for that, so after a few strikes its new isolates are
/// bootstrapped for it in the idle scheduling class rather than taken from
/// the shared pool (whose refills would then run next to everyone's
/// requests), run at the lowest priority from their first turn, and its
/// replacements are spaced out, doubling up to a cap. Strikes older
/// than [`STRIKES_REMEMBERED_FOR`] are forgotten.
#[derive(Debug, Default)]
pub struct Strikes {
    recent: Mutex<Option<(u32, Instant)>>,
}

impl Strikes {
    /// Records one termination.
    pub fn record(&self) {
        if let Ok(mut recent) = self.recent.lock() {
            let count = match *recent {
                Some((count, at)) if at.elapsed() < STRIKES_REMEMBERED_FOR => count.saturating_add(1),
                _ => 1,
            };
            *recent = Some((count, Instant::now()));
        }
    }

    /// Terminations within the last [`STRIKES_REMEMBERED_FOR`].
    pub fn recent(&self) -> u32 {
        match self.recent.lock().ok().and_then(|recent| *recent) {
            Some((count, at)) if at.elapsed() < STRIKES_REMEMBERED_FOR => count,
            _ => 0,
        }
    }

    /// Whether the worker's next isolate runs at the lowest priority from
    /// its first turn.
    pub fn demote_from_start(&self) -> bool {
        self.recent() >= DEMOTE_FROM_START_AFTER
    }

    /// How long to wait before starting the worker's next isolate.
    pub fn replacement_delay(&self) -> Duration {
        match self.recent().checked_sub(DELAY_REPLACEMENT_AFTER) {
            Some(doublings) => FIRST_REPLACEMENT_DELAY
                .saturating_mul(1 << doublings.min(8))
                .min(MAX_REPLACEMENT_DELAY),
            None => Duration::ZERO,
        }
    }
}

/// Why an isolate's execution was terminated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// A request (or background work after every request ended) used more
    /// CPU than `Limits::cpu_per_request`.
    CpuTime,
    /// The heap reached `Limits::heap_bytes`.
    Memory,
    /// One turn ran longer than the wall-clock limit without returning:
    /// the thread is blocked in native code.
    StuckTurn,
}

impl Termination {
    /// The limit that was exceeded.
    pub fn limit(self) -> Limit {
        match self {
            Termination::CpuTime => Limit::CpuTime,
            Termination::Memory => Limit::Memory,
            Termination::StuckTurn => Limit::WallClock,
        }
    }

    fn code(self) -> u8 {
        match self {
            Termination::CpuTime => 1,
            Termination::Memory => 2,
            Termination::StuckTurn => 3,
        }
    }

    fn from_code(code: u8) -> Option<Termination> {
        match code {
            1 => Some(Termination::CpuTime),
            2 => Some(Termination::Memory),
            3 => Some(Termination::StuckTurn),
            _ => None,
        }
    }
}

/// What the watchdog knows about one isolate.
pub struct IsolateWatch {
    cpu_clock: libc::clockid_t,
    /// The isolate thread's kernel id, for its scheduling priority.
    thread_id: libc::pid_t,
    /// Whether the thread is in the idle scheduling class.
    demoted: AtomicBool,
    /// Whether it must stay there: its worker has recent [`Strikes`], or
    /// leaving the idle class needs `CAP_SYS_NICE` or an `RLIMIT_NICE` of
    /// 20, and the server has neither.
    demoted_for_good: AtomicBool,
    stuck_after: Duration,
    handle: v8::IsolateHandle,
    turn: AtomicU64,
    in_turn: AtomicBool,
    /// The thread's CPU clock when the current turn began.
    turn_started_cpu_ns: AtomicU64,
    /// CPU the current turn may use, set by the isolate thread at the start
    /// of each turn from what its requests have left.
    turn_budget_ns: AtomicU64,
    terminated: AtomicU8,
    /// Whether a [`yield_demoted_turn`] interrupt is pending, so that at
    /// most one is.
    yield_armed: AtomicBool,
    /// The monotonic clock when a demoted turn last yielded its core.
    last_yield_ns: AtomicU64,
    /// How many times demoted turns yielded their core.
    yields: AtomicU64,
    /// Set when the isolate thread has stopped running JavaScript for good.
    finished: AtomicBool,
    // Watchdog-only bookkeeping: the turn it last saw, and the thread's CPU
    // clock and the wall clock when it first saw it.
    seen_turn: AtomicU64,
    seen_cpu_ns: AtomicU64,
    seen_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for IsolateWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IsolateWatch").field("termination", &self.termination()).finish_non_exhaustive()
    }
}

impl IsolateWatch {
    /// Registers the calling thread's isolate with the watchdog. Must be
    /// called on the isolate's own thread. A turn running longer than
    /// `stuck_after` (wall clock) is terminated.
    pub fn register(handle: v8::IsolateHandle, stuck_after: Duration) -> Arc<IsolateWatch> {
        let mut clock: libc::clockid_t = libc::CLOCK_THREAD_CPUTIME_ID;
        // SAFETY: pthread_self() is always valid for the calling thread and
        // `clock` is a valid out-pointer.
        unsafe {
            libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock);
        }
        // SAFETY: gettid has no preconditions.
        let thread_id = unsafe { libc::gettid() };
        let watch = Arc::new(IsolateWatch {
            cpu_clock: clock,
            thread_id,
            demoted: AtomicBool::new(false),
            demoted_for_good: AtomicBool::new(false),
            stuck_after,
            handle,
            turn: AtomicU64::new(0),
            in_turn: AtomicBool::new(false),
            turn_started_cpu_ns: AtomicU64::new(0),
            turn_budget_ns: AtomicU64::new(u64::MAX),
            terminated: AtomicU8::new(0),
            yield_armed: AtomicBool::new(false),
            last_yield_ns: AtomicU64::new(0),
            yields: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            seen_turn: AtomicU64::new(u64::MAX),
            seen_cpu_ns: AtomicU64::new(0),
            seen_at: Mutex::new(None),
        });
        watchdog().add(&watch);
        watch
    }

    /// Marks the start of a turn that may use `budget` CPU nanoseconds, and
    /// returns the thread's CPU clock (pass it to [`IsolateWatch::end_turn`]).
    #[inline]
    pub fn begin_turn(&self, budget_ns: u64) -> u64 {
        let now = thread_cpu_now();
        self.turn_budget_ns.store(budget_ns, Ordering::Relaxed);
        self.turn_started_cpu_ns.store(now, Ordering::Relaxed);
        self.turn.fetch_add(1, Ordering::Relaxed);
        self.in_turn.store(true, Ordering::Release);
        if self.demoted.load(Ordering::Relaxed) {
            // Demoted for good (a worker with strikes): from its first turn.
            self.arm_yield();
        }
        now
    }

    /// Marks the end of a turn; returns the CPU nanoseconds it used.
    #[inline]
    pub fn end_turn(&self, started_cpu_ns: u64) -> u64 {
        self.in_turn.store(false, Ordering::Release);
        if self.demoted.load(Ordering::Relaxed) && !self.demoted_for_good.load(Ordering::Relaxed) {
            self.restore_priority();
        }
        // A split turn (`split_turn`) has had its first part charged already.
        let started = started_cpu_ns.max(self.turn_started_cpu_ns.load(Ordering::Relaxed));
        thread_cpu_now().saturating_sub(started)
    }

    /// Ends the running turn's first part and starts a new turn with
    /// `budget_ns`; returns the CPU nanoseconds of the part that ended. For
    /// an event that starts a fresh CPU limit in the middle of a turn (a
    /// WebSocket message, `crate::api::websocket`).
    pub fn split_turn(&self, budget_ns: u64) -> u64 {
        let now = thread_cpu_now();
        let started = self.turn_started_cpu_ns.swap(now, Ordering::Relaxed);
        self.turn_budget_ns.store(budget_ns, Ordering::Relaxed);
        self.turn.fetch_add(1, Ordering::Relaxed);
        now.saturating_sub(started)
    }

    /// Back to normal priority after a long turn, where the process may
    /// raise priorities; otherwise the thread stays demoted.
    #[cold]
    fn restore_priority(&self) {
        let restored = set_idle_class(self.thread_id, false);
        if restored {
            self.demoted.store(false, Ordering::Relaxed);
        } else {
            self.demoted_for_good.store(true, Ordering::Relaxed);
        }
    }

    /// Drops the isolate thread to the lowest priority for the rest of its
    /// life (a worker with recent [`Strikes`]).
    pub fn demote_for_good(&self) {
        self.demoted_for_good.store(true, Ordering::Relaxed);
        self.demote();
    }

    /// Drops the isolate thread to the lowest priority (from the watchdog).
    fn demote(&self) {
        if self.demoted.swap(true, Ordering::Relaxed) {
            return;
        }
        set_idle_class(self.thread_id, true);
        self.arm_yield();
    }

    /// Has the running turn call [`yield_demoted_turn`] at its next
    /// interrupt check, unless a call is pending already.
    fn arm_yield(&self) {
        if self.yield_armed.swap(true, Ordering::AcqRel) {
            return;
        }
        let data = std::ptr::from_ref(self).cast_mut().cast::<std::ffi::c_void>();
        self.handle.request_interrupt(yield_demoted_turn, data);
    }

    /// How many times this isolate's demoted turns yielded their core.
    pub fn demoted_yields(&self) -> u64 {
        self.yields.load(Ordering::Relaxed)
    }

    /// Terminates the isolate's execution for `reason` (the first reason
    /// wins).
    pub fn terminate(&self, reason: Termination) {
        let _ = self.terminated.compare_exchange(0, reason.code(), Ordering::AcqRel, Ordering::Acquire);
        self.handle.terminate_execution();
    }

    /// Whether the isolate thread is in the idle scheduling class now.
    pub fn in_idle_class(&self) -> bool {
        in_idle_class(self.thread_id)
    }

    /// Why the isolate was terminated, if it was.
    pub fn termination(&self) -> Option<Termination> {
        Termination::from_code(self.terminated.load(Ordering::Acquire))
    }

    /// Called by the isolate thread once it will never run JavaScript again,
    /// so the watchdog stops terminating it.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Release);
    }

    /// The isolate thread's CPU clock in nanoseconds; None once the thread
    /// is gone.
    pub fn thread_cpu_ns(&self) -> Option<u64> {
        read_clock_ns(self.cpu_clock)
    }

    fn check(&self) {
        if self.finished.load(Ordering::Acquire) {
            return;
        }
        let in_turn = self.in_turn.load(Ordering::Acquire);
        if self.termination().is_some() {
            // The engine can swallow a termination; repeat it until the
            // isolate thread has stopped running JavaScript.
            if in_turn {
                self.handle.terminate_execution();
            }
            return;
        }
        if !in_turn {
            self.seen_turn.store(u64::MAX, Ordering::Relaxed);
            return;
        }
        let turn = self.turn.load(Ordering::Relaxed);
        let Some(now) = self.thread_cpu_ns() else { return };
        let Ok(mut seen_at) = self.seen_at.lock() else { return };
        if self.seen_turn.load(Ordering::Relaxed) != turn {
            self.seen_turn.store(turn, Ordering::Relaxed);
            self.seen_cpu_ns.store(now, Ordering::Relaxed);
            *seen_at = Some(Instant::now());
            // The turn may already be long: its start time can be read with
            // the turn's number out of step, so this only ever demotes.
            if now.saturating_sub(self.turn_started_cpu_ns.load(Ordering::Relaxed)) > DEMOTE_AFTER_NS {
                self.demote();
            }
            return;
        }
        // The turn started before we first saw it, so add one tick of slack
        // at most: the measured CPU is a lower bound of the turn's real use.
        let budget = self.turn_budget_ns.load(Ordering::Relaxed);
        let cpu_used = now.saturating_sub(self.seen_cpu_ns.load(Ordering::Relaxed));
        if cpu_used > budget {
            self.terminate(Termination::CpuTime);
            return;
        }
        if cpu_used > DEMOTE_AFTER_NS {
            self.demote();
        }
        // A turn past the wall-clock limit that is mostly not using CPU is
        // blocked (a busy one is the CPU limit's business).
        let wall = seen_at.map(|at| at.elapsed()).unwrap_or_default();
        if wall > self.stuck_after && u128::from(cpu_used) < wall.as_nanos() / 20 {
            self.terminate(Termination::StuckTurn);
        }
    }
}

/// Runs on the isolate thread at an interrupt check of a demoted turn (the
/// engine checks at loop back-edges and calls): yields the core if the
/// turn has run [`DEMOTED_TURN_YIELDS_EVERY_NS`] since it last did, and
/// asks to be called again at the next check, for as long as the turn runs
/// demoted. Yielding costs one system call when nothing else wants the core.
unsafe extern "C" fn yield_demoted_turn(_isolate: v8::UnsafeRawIsolatePtr, data: *mut std::ffi::c_void) {
    // SAFETY: `data` is the `IsolateWatch` that armed this call
    // (`arm_yield`). The isolate's op state holds an `Arc` of it for as
    // long as the isolate exists, and interrupts run only on the isolate's
    // thread while it runs JavaScript.
    let watch = unsafe { &*data.cast_const().cast::<IsolateWatch>() };
    watch.yield_armed.store(false, Ordering::Release);
    let demoted_turn = watch.demoted.load(Ordering::Relaxed)
        && watch.in_turn.load(Ordering::Acquire)
        && watch.termination().is_none();
    if !demoted_turn {
        return;
    }
    let now = monotonic_now_ns();
    if now.saturating_sub(watch.last_yield_ns.load(Ordering::Relaxed)) >= DEMOTED_TURN_YIELDS_EVERY_NS {
        // SAFETY: sched_yield has no preconditions.
        unsafe { libc::sched_yield() };
        watch.last_yield_ns.store(monotonic_now_ns(), Ordering::Relaxed);
        watch.yields.fetch_add(1, Ordering::Relaxed);
    }
    watch.arm_yield();
}

fn monotonic_now_ns() -> u64 {
    read_clock_ns(libc::CLOCK_MONOTONIC).unwrap_or(0)
}

/// The clock `clock` in nanoseconds; None if it cannot be read (the CPU
/// clock of a thread that has exited).
fn read_clock_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer; an invalid clock makes
    // clock_gettime fail, which is handled.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Moves a thread of this process (0: the calling thread) into the idle
/// scheduling class (`SCHED_IDLE`), or back to the normal one; false if the
/// kernel refused
/// (going back needs `CAP_SYS_NICE` or an `RLIMIT_NICE` of 20) or the
/// thread is gone.
fn set_idle_class(thread_id: libc::pid_t, idle: bool) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    let policy = if idle { libc::SCHED_IDLE } else { libc::SCHED_OTHER };
    // SAFETY: `param` is a valid sched_param; an unknown thread id fails.
    unsafe { libc::sched_setscheduler(thread_id, policy, &param) == 0 }
}

/// Whether this process may move a thread out of the idle scheduling class
/// again (`CAP_SYS_NICE`, or an `RLIMIT_NICE` of 20). Probed once, on a
/// short-lived thread of its own.
pub fn idle_class_is_reversible() -> bool {
    static REVERSIBLE: OnceLock<bool> = OnceLock::new();
    *REVERSIBLE.get_or_init(|| {
        std::thread::Builder::new()
            .name("brink-sched-probe".into())
            .spawn(|| set_idle_class(0, true) && set_idle_class(0, false))
            .ok()
            .and_then(|probe| probe.join().ok())
            .unwrap_or(false)
    })
}

/// Moves the calling thread into the idle scheduling class for work that
/// must never delay a serving thread (a pool refill's bootstrap), if the
/// process can bring it back ([`leave_idle_class`]); false when it stays
/// in the normal class.
pub(crate) fn enter_idle_class() -> bool {
    idle_class_is_reversible() && set_idle_class(0, true)
}

/// Moves the calling thread back to the normal scheduling class.
pub(crate) fn leave_idle_class() -> bool {
    set_idle_class(0, false)
}

/// The scheduling class of a pool refill's bootstrap: the idle class, so it
/// never delays a thread serving a request, until a cold start waits for it
/// ([`BootstrapPriority::promote`]); from then on the normal class, so it is
/// not starved while a request waits.
#[derive(Debug, Default)]
pub(crate) struct BootstrapPriority {
    state: Mutex<BootstrapState>,
}

#[derive(Debug, Default)]
struct BootstrapState {
    /// The bootstrapping thread, while it is in the idle class.
    thread: Option<libc::pid_t>,
    promoted: bool,
}

impl BootstrapPriority {
    /// Called on the bootstrapping thread before the bootstrap: moves it to
    /// the idle class unless a cold start already waits for it (or the
    /// process could not bring it back). Whether it moved.
    pub(crate) fn enter(&self) -> bool {
        let Ok(mut state) = self.state.lock() else { return false };
        if state.promoted || !enter_idle_class() {
            return false;
        }
        // SAFETY: gettid has no preconditions.
        state.thread = Some(unsafe { libc::gettid() });
        true
    }

    /// Called on the bootstrapping thread once the bootstrap is done: back
    /// to the normal class; false if the kernel refused.
    pub(crate) fn leave(&self) -> bool {
        // Cleared under the lock a promotion holds while it uses the id, so
        // a promotion never reaches a thread that has moved on (or an id
        // reused by another thread).
        if let Ok(mut state) = self.state.lock() {
            state.thread = None;
        }
        leave_idle_class()
    }

    /// A cold start waits for this bootstrap: the rest of it runs in the
    /// normal class.
    pub(crate) fn promote(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.promoted = true;
            if let Some(thread) = state.thread.take() {
                if !set_idle_class(thread, false) {
                    tracing::warn!(thread, "could not promote a pool refill a cold start waits for");
                }
            }
        }
    }
}

/// Whether the thread `thread_id` of this process (0: the calling thread)
/// is in the idle scheduling class.
pub(crate) fn in_idle_class(thread_id: libc::pid_t) -> bool {
    // SAFETY: sched_getscheduler has no memory preconditions; an unknown
    // thread id returns -1.
    unsafe { libc::sched_getscheduler(thread_id) == libc::SCHED_IDLE }
}

/// The calling thread's CPU clock in nanoseconds.
pub fn thread_cpu_now() -> u64 {
    read_clock_ns(libc::CLOCK_THREAD_CPUTIME_ID).unwrap_or(0)
}

struct Watchdog {
    watches: Mutex<Vec<Weak<IsolateWatch>>>,
}

impl Watchdog {
    fn add(&self, watch: &Arc<IsolateWatch>) {
        if let Ok(mut watches) = self.watches.lock() {
            watches.push(Arc::downgrade(watch));
        }
    }

    fn run(&self) {
        loop {
            std::thread::sleep(TICK);
            let live: Vec<Arc<IsolateWatch>> = match self.watches.lock() {
                Ok(mut watches) => {
                    watches.retain(|w| w.strong_count() > 0);
                    watches.iter().filter_map(Weak::upgrade).collect()
                }
                Err(_) => return,
            };
            for watch in live {
                watch.check();
            }
        }
    }
}

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let dog: &'static Watchdog = Box::leak(Box::new(Watchdog { watches: Mutex::new(Vec::new()) }));
        let spawned = std::thread::Builder::new()
            .name("brink-supervisor".into())
            .spawn(move || dog.run());
        if let Err(error) = spawned {
            tracing::error!(%error, "could not start the isolate supervisor thread");
        }
        dog
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promoted_bootstrap_leaves_the_idle_class_at_once() {
        if !idle_class_is_reversible() {
            return; // without CAP_SYS_NICE a refill never enters it
        }
        let priority = Arc::new(BootstrapPriority::default());
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let bootstrap = std::thread::spawn({
            let priority = priority.clone();
            move || {
                let entered = priority.enter();
                let _ = entered_tx.send(entered);
                // Stands for the bootstrap: runs until it is back in the
                // normal class (bounded, so a failure cannot hang).
                let until = Instant::now() + Duration::from_secs(30);
                while in_idle_class(0) && Instant::now() < until {
                    std::thread::yield_now();
                }
                let promoted = !in_idle_class(0);
                priority.leave();
                promoted
            }
        });
        assert!(entered.recv().unwrap(), "the bootstrap did not enter the idle class");
        priority.promote();
        assert!(bootstrap.join().unwrap(), "the promotion did not reach the bootstrapping thread");
        // Once promoted, a bootstrap does not enter the idle class at all.
        let late = BootstrapPriority::default();
        late.promote();
        assert!(std::thread::spawn(move || !late.enter() && !in_idle_class(0)).join().unwrap());
    }
}
