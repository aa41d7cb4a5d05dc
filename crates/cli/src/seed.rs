//! `talkwriter-scim seed`: fills a database with benchmark data in bulk (multi-row inserts in
//! large transactions), far faster than provisioning it over SCIM. For benchmarks and demos
//! only: seeded rows have no sync-log events of their own, only synthetic ones.

use std::time::Instant;

use anyhow::Result;
use provisioning::seed::SeedSpec;

use crate::Db;

#[derive(clap::Args)]
pub struct SeedArgs {
    #[command(flatten)]
    db: Db,
    /// Users to add (ids, userNames and times follow `provisioning::seed`'s scheme).
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Groups to add.
    #[arg(long, default_value_t = 10)]
    groups: u64,
    /// Members of the first group, taken from the first users.
    #[arg(long, default_value_t = 0)]
    group_members: u64,
    /// Synthetic sync-log events to add.
    #[arg(long, default_value_t = 0)]
    events: u64,
}

pub async fn run(a: SeedArgs) -> Result<()> {
    let p = a.db.open().await?;
    let spec = SeedSpec { users: a.users, groups: a.groups, group_members: a.group_members, events: a.events };
    let started = Instant::now();
    p.seed(&spec, |what, n| eprintln!("seed: {n} {what} ({:.1} s)", started.elapsed().as_secs_f64())).await?;
    p.close().await;
    println!(
        "seeded {} users, {} groups ({} members in the first), {} events in {:.1} s",
        a.users,
        a.groups,
        a.group_members.min(a.users),
        a.events,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
