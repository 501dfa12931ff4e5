//! The supervisor: one watchdog thread that enforces the CPU limit of every
//! isolate in the process, and the per-isolate [`IsolateWatch`] it reads.
//!
//! The isolate thread marks the start and end of each *turn* (one
//! uninterrupted run of JavaScript) with two atomic stores; no clock is read
//! on the hot path. The watchdog ticks every few milliseconds: a turn it sees
//! twice is measured with the isolate thread's own CPU clock
//! (`pthread_getcpuclockid`), and terminated once it has used more CPU than
//! the limit allows. Time the thread spends blocked does not count.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use deno_core::v8;

const TICK: Duration = Duration::from_millis(5);

/// Why an isolate's execution was terminated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// A turn used more CPU than `Limits::cpu_per_turn`.
    CpuTime,
    /// The heap reached `Limits::heap_bytes`.
    Memory,
}

impl Termination {
    /// The limit's name, for errors and logs.
    pub fn limit_name(self) -> &'static str {
        match self {
            Termination::CpuTime => "CPU time limit",
            Termination::Memory => "memory limit",
        }
    }
}

/// What the watchdog knows about one isolate.
pub struct IsolateWatch {
    cpu_clock: libc::clockid_t,
    cpu_limit_ns: u64,
    handle: v8::IsolateHandle,
    turn: AtomicU64,
    in_turn: AtomicBool,
    terminated: AtomicU8,
    // Watchdog-only bookkeeping: the turn it last saw and the thread's CPU
    // clock when it first saw it.
    seen_turn: AtomicU64,
    seen_cpu_ns: AtomicU64,
}

impl IsolateWatch {
    /// Registers the calling thread's isolate with the watchdog. Must be
    /// called on the isolate's own thread.
    pub fn register(handle: v8::IsolateHandle, cpu_limit: Duration) -> Arc<IsolateWatch> {
        let mut clock: libc::clockid_t = libc::CLOCK_THREAD_CPUTIME_ID;
        // SAFETY: pthread_self() is always valid for the calling thread and
        // `clock` is a valid out-pointer.
        unsafe {
            libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock);
        }
        let watch = Arc::new(IsolateWatch {
            cpu_clock: clock,
            cpu_limit_ns: cpu_limit.as_nanos().min(u64::MAX as u128) as u64,
            handle,
            turn: AtomicU64::new(0),
            in_turn: AtomicBool::new(false),
            terminated: AtomicU8::new(0),
            seen_turn: AtomicU64::new(u64::MAX),
            seen_cpu_ns: AtomicU64::new(0),
        });
        watchdog().add(&watch);
        watch
    }

    /// Marks the start of a turn.
    #[inline]
    pub fn begin_turn(&self) {
        self.turn.fetch_add(1, Ordering::Relaxed);
        self.in_turn.store(true, Ordering::Release);
    }

    /// Marks the end of a turn.
    #[inline]
    pub fn end_turn(&self) {
        self.in_turn.store(false, Ordering::Release);
    }

    /// Terminates the isolate's execution for `reason`.
    pub fn terminate(&self, reason: Termination) {
        let code = match reason {
            Termination::CpuTime => 1,
            Termination::Memory => 2,
        };
        if self.terminated.compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.handle.terminate_execution();
        }
    }

    /// Why the isolate was terminated, if it was.
    pub fn termination(&self) -> Option<Termination> {
        match self.terminated.load(Ordering::Acquire) {
            1 => Some(Termination::CpuTime),
            2 => Some(Termination::Memory),
            _ => None,
        }
    }

    fn thread_cpu_ns(&self) -> Option<u64> {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid out-pointer; an invalid clock (thread gone)
        // makes clock_gettime fail, which is handled.
        let rc = unsafe { libc::clock_gettime(self.cpu_clock, &mut ts) };
        (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }

    fn check(&self) {
        if !self.in_turn.load(Ordering::Acquire) || self.termination().is_some() {
            self.seen_turn.store(u64::MAX, Ordering::Relaxed);
            return;
        }
        let turn = self.turn.load(Ordering::Relaxed);
        let Some(now) = self.thread_cpu_ns() else { return };
        if self.seen_turn.load(Ordering::Relaxed) != turn {
            self.seen_turn.store(turn, Ordering::Relaxed);
            self.seen_cpu_ns.store(now, Ordering::Relaxed);
            return;
        }
        // The turn started before we first saw it, so add one tick of slack
        // at most: the measured CPU is a lower bound of the turn's real use.
        if now.saturating_sub(self.seen_cpu_ns.load(Ordering::Relaxed)) > self.cpu_limit_ns {
            self.terminate(Termination::CpuTime);
        }
    }
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
