//! Measurement windows, CPU time, latency histograms and the markdown tables.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::target::Target;

/// How long to warm up and how long to measure.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub warmup: Duration,
    pub measure: Duration,
}

/// The measured part of a scenario: work that completes in `[start, end]` counts; workers stop
/// starting new work at `end`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    /// A window that opens after the warm-up, counted from now.
    pub fn after_warmup(timing: Timing) -> Self {
        let start = Instant::now() + timing.warmup;
        Self {
            start,
            end: start + timing.measure,
        }
    }

    pub fn contains(&self, t: Instant) -> bool {
        t >= self.start && t <= self.end
    }

    pub fn seconds(&self) -> f64 {
        (self.end - self.start).as_secs_f64()
    }
}

/// CPU seconds used by client and server over a window.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub wall: f64,
    pub client: f64,
    pub server: Option<f64>,
    /// A broker between them, when the scenario runs one (`mqtt`).
    pub broker: Option<f64>,
    /// The whole machine's busy CPU seconds; what client and server do not account for is some
    /// other process (a build, say) that made the numbers worse.
    pub machine: Option<f64>,
}

impl CpuUse {
    /// CPU seconds used by processes other than client and server, when it can be known.
    pub fn others(&self) -> Option<f64> {
        Some(self.machine? - self.client - self.server? - self.broker.unwrap_or(0.0))
    }
}

/// Waits through the window, reading both processes' CPU time at its edges. Runs beside the
/// workers, so the numbers cover exactly the measured part.
pub async fn cpu_over(window: Window, target: &Target) -> CpuUse {
    tokio::time::sleep_until(window.start.into()).await;
    let (client0, server0, machine0) = (own_cpu(), target.server_cpu(), machine_busy());
    let t0 = Instant::now();
    tokio::time::sleep_until(window.end.into()).await;
    let (client1, server1, machine1) = (own_cpu(), target.server_cpu(), machine_busy());
    CpuUse {
        wall: t0.elapsed().as_secs_f64(),
        client: client1 - client0,
        server: server0.zip(server1).map(|(a, b)| b - a),
        broker: None,
        machine: machine0.zip(machine1).map(|(a, b)| b - a),
    }
}

/// Busy CPU seconds of the whole machine since boot (all CPUs; idle and I/O wait excluded),
/// from the first line of `/proc/stat`.
fn machine_busy() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal: everything but idle and iowait.
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| ticks.get(i))
        .sum();
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| busy as f64 / hz as f64)
}

/// User + system CPU seconds of this process, all threads.
pub fn own_cpu() -> f64 {
    // SAFETY: getrusage fills the struct we hand it and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return 0.0;
        }
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Latencies in microseconds, 1 µs to 2 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

pub fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record((d.as_micros() as u64).max(1));
}

/// Failed requests or deliveries, with the first few kept to show.
#[derive(Debug, Default)]
pub struct Errors {
    pub count: u64,
    pub samples: Vec<String>,
}

impl Errors {
    const KEEP: usize = 5;

    pub fn add(&mut self, what: impl FnOnce() -> String) {
        self.add_many(1, what);
    }

    pub fn add_many(&mut self, n: u64, what: impl FnOnce() -> String) {
        if n == 0 {
            return;
        }
        self.count += n;
        if self.samples.len() < Self::KEEP {
            self.samples.push(what());
        }
    }

    pub fn merge(&mut self, other: Errors) {
        self.count += other.count;
        let room = Self::KEEP.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
    }
}

pub struct Outcome {
    pub scenario: &'static str,
    pub params: String,
    pub events_per_s: f64,
    /// What the latency columns measure, for the line under the table.
    pub latency_of: &'static str,
    pub latency: Histogram<u64>,
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// Events the server acknowledged over the whole scenario, warm-up included.
    pub acked: u64,
    pub cpu: CpuUse,
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn table(&self) -> String {
        let mut out = String::new();
        let ms = |us: u64| format_ms(us);
        let (p50, p99, max) = if self.latency.is_empty() {
            ("-".to_owned(), "-".to_owned(), "-".to_owned())
        } else {
            (
                ms(self.latency.value_at_quantile(0.50)),
                ms(self.latency.value_at_quantile(0.99)),
                ms(self.latency.max()),
            )
        };
        let share = |cpu: f64| format!("{cpu:.1} s ({:.0}%)", 100.0 * cpu / self.cpu.wall);
        let errors = if self.errors == 0 {
            "0".to_owned()
        } else {
            format!("**{}**", self.errors)
        };
        let _ = writeln!(out, "## {}\n", self.scenario);
        let _ = writeln!(
            out,
            "| scenario | parameters | events/s | p50 | p99 | max | errors | wall | client CPU | server CPU |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {p50} | {p99} | {max} | {errors} | {:.1} s | {} | {} |",
            self.scenario,
            self.params,
            thousands(self.events_per_s.round() as u64),
            self.cpu.wall,
            share(self.cpu.client),
            self.cpu.server.map_or_else(|| "n/a".to_owned(), share),
        );
        let _ = write!(
            out,
            "\nLatency: {} ({} samples",
            self.latency_of,
            thousands(self.latency.len())
        );
        if !self.latency.is_empty() {
            let _ = write!(
                out,
                "; p90 {}, p99.9 {}",
                ms(self.latency.value_at_quantile(0.90)),
                ms(self.latency.value_at_quantile(0.999))
            );
        }
        let _ = writeln!(out, "). CPU % is of one core.");
        if let Some(others) = self.cpu.others() {
            let _ = writeln!(
                out,
                "Other processes on the machine used {:.1} s of CPU meanwhile.",
                others.max(0.0)
            );
            // Tick rounding makes a few tens of ms of noise; a build next door makes seconds.
            if others > 0.1 * self.cpu.wall {
                let _ = writeln!(
                    out,
                    "**Other processes used {others:.1} s of CPU ({:.0}% of one core) during \
                     this measurement: the machine was not quiet, so these numbers are low.**",
                    100.0 * others / self.cpu.wall
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "{note}");
        }
        if self.errors > 0 {
            let _ = writeln!(
                out,
                "\n**{} ERRORS in this scenario; first ones:**",
                self.errors
            );
            for sample in &self.error_samples {
                let _ = writeln!(out, "- {sample}");
            }
        }
        out
    }
}

fn format_ms(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Now, in epoch milliseconds: event times must be near the server's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (31204, "31,204"),
            (1234567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), text);
        }
    }
}
