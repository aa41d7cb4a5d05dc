//! `simulate`, `check` and `test-connection`: the idp-sim crate's runs from the command line,
//! printed for people or as one JSON document with `--json`. Each exits non-zero when the
//! endpoint failed something.

use std::io::{IsTerminal, Write};

use anyhow::{Result, bail};
use idp_sim::{Exchange, Profile, SimOptions};

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The IdP to play: okta, okta-put, entra, entra-flag, onelogin or jumpcloud.
    #[arg(long, value_parser = parse_profile)]
    idp: Profile,
    /// The SCIM base URL, e.g. http://127.0.0.1:8787/scim/v2
    #[arg(long)]
    url: String,
    /// The bearer token.
    #[arg(long, env = "TALKWRITER_SCIM_TOKEN", hide_env_values = true)]
    token: String,
    /// People in the simulated directory.
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Groups in the simulated directory.
    #[arg(long, default_value_t = 5)]
    groups: usize,
    /// Delete the simulated users and groups at the end (they stay by default, to be seen).
    #[arg(long)]
    cleanup: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The SCIM base URL, e.g. https://scim.example.com/scim/v2
    url: String,
    /// The bearer token.
    #[arg(long, env = "TALKWRITER_SCIM_TOKEN", hide_env_values = true)]
    token: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse().map_err(|e: idp_sim::Error| e.to_string())
}

fn print_exchange(ex: &Exchange, indent: &str) {
    for line in ex.to_string().lines() {
        println!("{indent}{line}");
    }
}

pub async fn simulate(a: SimulateArgs) -> Result<()> {
    let options = SimOptions { users: a.users, groups: a.groups, cleanup: a.cleanup, ..Default::default() };
    let tty = std::io::stderr().is_terminal() && !a.json;
    let report = idp_sim::simulate(a.idp, &a.url, &a.token, options, |done, total| {
        if tty {
            eprint!("\r{} {done}/{total} steps", a.idp.label());
            let _ = std::io::stderr().flush();
        }
    })
    .await?;
    if tty {
        eprintln!();
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let d = &report.directory;
        println!(
            "{} against {}: {} users, {} groups (run {})",
            report.profile.label(),
            report.base_url,
            report.users,
            report.groups,
            report.run_id
        );
        println!("  created      {}", report.created);
        println!("  updated      {}", report.updated);
        println!("  deactivated  {}", report.deactivated);
        println!("  deleted      {}", report.deleted);
        println!("  failed       {}", report.failed);
        println!("  verified     {} read back as the IdP left them", report.verified);
        println!("  requests     {} in {:.1} s", report.requests, report.duration_ms as f64 / 1000.0);
        println!(
            "The IdP now expects {} active and {} inactive users ({} deleted) and {} groups, userNames @{}",
            d.active_users,
            d.inactive_users,
            d.deleted_users,
            d.groups.len(),
            d.user_domain
        );
        if report.cleaned_up > 0 {
            println!("Cleaned up: {} simulated users and groups deleted again", report.cleaned_up);
        }
        if let Some(why) = &report.aborted {
            println!("Stopped early: {why}");
        }
        for f in &report.failures {
            println!("FAIL  {}: {}", f.step, f.reason);
            if let Some(ex) = &f.exchange {
                print_exchange(ex, "      ");
            }
        }
    }
    if !report.ok() {
        bail!("the simulated sync had failures ({})", report.failed);
    }
    Ok(())
}

pub async fn check(a: CheckArgs) -> Result<()> {
    let report = idp_sim::check(&a.url, &a.token).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let width = report.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &report.checks {
            println!("{}  {:<width$}  {}", if c.passed { "PASS" } else { "FAIL" }, c.name, c.description);
            if let Some(d) = &c.detail {
                println!("      why: {d}");
            }
            if let Some(ex) = &c.exchange {
                print_exchange(ex, "      ");
            }
        }
        println!(
            "{} of {} checks passed against {} (run {}, {:.1} s)",
            report.passed,
            report.checks.len(),
            report.base_url,
            report.run_id,
            report.duration_ms as f64 / 1000.0
        );
    }
    if !report.ok() {
        bail!("{} of {} checks failed: {}", report.failed, report.checks.len(), report.failed_names().join(", "));
    }
    Ok(())
}

pub async fn test_connection(a: CheckArgs) -> Result<()> {
    let report = idp_sim::test_connection(&a.url, &a.token).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{} {}", if report.ok { "OK  " } else { "FAIL" }, report.message);
        println!("      latency {:.0} ms", report.latency_ms);
        if let Some(c) = &report.certificate {
            println!("      certificate {} (issuer {})", c.subject, c.issuer);
            println!(
                "      valid until {} ({} days){}",
                c.not_after.format("%Y-%m-%d %H:%M UTC"),
                c.days_left,
                if c.trusted { "" } else { ", NOT TRUSTED" }
            );
        }
        if !report.ok {
            print_exchange(&report.exchange, "      ");
        }
    }
    if !report.ok {
        bail!("the test connection failed");
    }
    Ok(())
}
