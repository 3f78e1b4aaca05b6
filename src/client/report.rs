//! What `leadflow import` tells its user: progress while it runs, the
//! summary at the end.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::{ImportArgs, Summary};

/// "1 row", "2 rows".
pub(super) fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub(super) fn report(
    args: &ImportArgs,
    s: &Summary,
    elapsed: Duration,
    failed_file: Option<&PathBuf>,
) {
    eprintln!(
        "{} in {:.1} s: {} imported, {} updated, {} skipped, {} failed",
        plural(s.rows, "row"),
        elapsed.as_secs_f64(),
        s.imported,
        s.updated,
        s.skipped,
        s.failed
    );
    if args.campaign.is_some() {
        eprintln!(
            "campaign: {} added, {} skipped: {} already in it, {} blocked by the do-not-contact list, {} in another campaign",
            s.campaign_added,
            s.campaign_skipped,
            s.campaign_already,
            s.campaign_blocked,
            s.campaign_in_other
        );
    }
    if let Some(path) = failed_file {
        eprintln!("failed rows, with the reason: {}", path.display());
    }
    if args.json {
        let mut out = json!({
            "rows": s.rows, "imported": s.imported, "updated": s.updated,
            "skipped": s.skipped, "failed": s.failed,
            "failedRowsFile": failed_file.map(|p| p.display().to_string()),
        });
        if args.campaign.is_some() {
            out["campaign"] = json!({
                "added": s.campaign_added, "skipped": s.campaign_skipped,
                "alreadyInCampaign": s.campaign_already, "blocked": s.campaign_blocked,
                "inOtherCampaign": s.campaign_in_other,
            });
        }
        println!("{out}");
    }
}

/// A progress bar on a terminal, a line per batch otherwise.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    started: Instant,
}

impl Progress {
    pub(super) fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} rows · {msg} · ETA {eta}")
                    .expect("a valid template"),
            );
            bar
        });
        Self {
            bar,
            total,
            started: Instant::now(),
        }
    }

    /// `done` rows of the file have been read and sent (or failed).
    pub(super) fn update(&self, done: u64, s: &Summary, failed: usize) {
        let status = format!(
            "{} imported, {} updated, {} skipped, {} failed",
            s.imported, s.updated, s.skipped, failed
        );
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(format!("{rate:.0} rows/s · {status}"));
            }
            None => {
                let eta = self.total.saturating_sub(done) as f64 / rate.max(0.001);
                eprintln!(
                    "{done}/{} rows ({rate:.0} rows/s, ETA {eta:.0} s): {status}",
                    self.total
                );
            }
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
