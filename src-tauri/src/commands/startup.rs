//! Start-up time: the window reports once that its first screen is painted with the engine's
//! data, and the shell logs how long that took since the process started. Support reads it in
//! the log; the app benchmark reads it there and through `first_paint_ms`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tauri::State;

use crate::state::AppState;

/// When `main` began, and how long the first screen took to paint.
pub struct Startup {
    started: Instant,
    painted: OnceLock<Duration>,
}

impl Startup {
    /// Called first thing in `main`.
    pub fn now() -> Startup {
        Startup { started: Instant::now(), painted: OnceLock::new() }
    }

    /// Records the first paint once; later calls keep the first figure. `page_ms` is the page's
    /// own clock (`performance.now()`) at that paint, which splits the time between the shell
    /// and the web view.
    pub fn painted(&self, page_ms: Option<f64>) -> Duration {
        *self.painted.get_or_init(|| {
            let took = self.started.elapsed();
            match page_ms {
                Some(page) => tracing::info!("first screen painted in {} ms (page {page:.0} ms)", took.as_millis()),
                None => tracing::info!("first screen painted in {} ms", took.as_millis()),
            }
            took
        })
    }

    pub fn first_paint(&self) -> Option<Duration> {
        self.painted.get().copied()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The window's first screen is painted; answers the milliseconds since the process started.
#[tauri::command]
pub fn app_painted(s: State<'_, AppState>, page_ms: Option<f64>) -> f64 {
    ms(s.startup.painted(page_ms.filter(|v| v.is_finite() && *v >= 0.0)))
}

/// The milliseconds from the process start to the first painted screen, once it was painted.
#[tauri::command]
pub fn first_paint_ms(s: State<'_, AppState>) -> Option<f64> {
    s.startup.first_paint().map(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the first paint is recorded once: a second report keeps the first figure.
    #[test]
    fn first_paint_is_recorded_once() {
        let s = Startup::now();
        assert_eq!(s.first_paint(), None);
        let first = s.painted(Some(12.0));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.painted(None), first);
        assert_eq!(s.first_paint(), Some(first));
    }
}
