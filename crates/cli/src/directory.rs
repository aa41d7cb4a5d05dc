//! `talkwriter-scim users`, `groups` and `access`: the directory and who has access, as the app shows it.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use provisioning::{AccessRule, DirectoryQuery, ListQuery, ResourceKind};
use serde_json::{Value, json};

use crate::Db;

/// Resources' `meta.location` as the CLI prints them.
const BASE_URL: &str = "http://127.0.0.1:8787/scim/v2";

#[derive(clap::Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: Option<UsersCommand>,
    #[command(flatten)]
    db: Db,
    /// One JSON object per line: the SCIM resource with an `access` object.
    #[arg(long)]
    json: bool,
    /// A SCIM filter, e.g. 'userName sw "a"' or 'active eq false'.
    #[arg(long)]
    filter: Option<String>,
    /// Only users with this access state.
    #[arg(long, value_parser = ["has_access", "suspended", "no_access"])]
    access: Option<String>,
    #[arg(long, default_value_t = 1000)]
    limit: i64,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// One user by userName (or id): fields, groups, access and recent history (the IdPs'
    /// lookups of the user counted, not listed).
    Show {
        user_name: String,
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
pub struct GroupsArgs {
    #[command(subcommand)]
    command: Option<GroupsCommand>,
    #[command(flatten)]
    db: Db,
    #[arg(long)]
    json: bool,
    /// A SCIM filter, e.g. 'displayName eq "Engineering"'.
    #[arg(long)]
    filter: Option<String>,
    #[arg(long, default_value_t = 1000)]
    limit: i64,
}

#[derive(Subcommand)]
enum GroupsCommand {
    /// One group by display name (or id), with its members and their access.
    Show {
        name: String,
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
pub struct AccessArgs {
    /// `all`: every active user has access; `groups`: only members of the --grant groups.
    #[arg(value_parser = ["all", "groups", "show"])]
    mode: String,
    /// A group (display name or id) that grants access; repeat for several.
    #[arg(long)]
    grant: Vec<String>,
    #[command(flatten)]
    db: Db,
}

fn access_json(a: &provisioning::Access) -> Value {
    json!({"granted": a.granted, "state": a.state, "reason": a.reason})
}

pub async fn users(a: UsersArgs) -> Result<()> {
    if let Some(UsersCommand::Show { user_name, db, json }) = a.command {
        let p = db.open().await?;
        let d = p.user_detail(BASE_URL, &user_name).await?.with_context(|| format!("no user \"{user_name}\""))?;
        if json {
            let mut out = d.resource.clone();
            out["access"] = access_json(&d.user.access);
            out["adminSuspended"] = json!(d.user.admin_suspended);
            out["history"] = serde_json::to_value(&d.history)?;
            out["lookups"] = serde_json::to_value(&d.lookups)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            println!("{}  {}", d.user.user_name, d.user.access.reason);
            for g in &d.groups {
                println!("  member of {}{}", g.display_name, if g.grants_access { " (grants access)" } else { "" });
            }
            // As the app's panel: the IdPs' lookups that found the user are counted, not listed.
            if let Some(last) = &d.lookups.last {
                println!("  looked up {} time(s), last {} by {}", d.lookups.count, last.time, last.idp);
            }
            for e in d.history.iter().take(20) {
                println!("  {}  {:<20} {}", e.time, e.operation, e.detail.as_deref().unwrap_or(""));
            }
        }
        return Ok(());
    }
    let p = a.db.open().await?;
    let ids: Vec<String> = match &a.filter {
        Some(f) => {
            let q = ListQuery::from_pairs([("filter", f.as_str()), ("count", &a.limit.to_string())])?;
            let list = p.list(ResourceKind::User, BASE_URL, &q).await?;
            list["Resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        }
        None => {
            let q = DirectoryQuery { access: a.access.clone(), limit: a.limit, ..Default::default() };
            p.directory_users(&q).await?.items.into_iter().map(|u| u.id).collect()
        }
    };
    for id in ids {
        let Some(d) = p.user_detail(BASE_URL, &id).await? else { continue };
        if a.access.as_deref().is_some_and(|s| s != d.user.access.state) {
            continue;
        }
        if a.json {
            let mut out = d.resource;
            out["access"] = access_json(&d.user.access);
            println!("{}", serde_json::to_string(&out)?);
        } else {
            println!("{:<40} {:<10} {}", d.user.user_name, d.user.access.state, d.user.access.reason);
        }
    }
    Ok(())
}

pub async fn groups(a: GroupsArgs) -> Result<()> {
    if let Some(GroupsCommand::Show { name, db, json }) = a.command {
        let p = db.open().await?;
        let d = p.group_detail(&name, 0, 500).await?.with_context(|| format!("no group \"{name}\""))?;
        if json {
            println!("{}", serde_json::to_string_pretty(&d)?);
        } else {
            println!(
                "{}  {} member(s){}",
                d.group.display_name,
                d.group.members,
                if d.group.grants_access { ", grants access" } else { "" }
            );
            for m in &d.members.items {
                println!("  {:<40} {}", m.user_name, m.access.reason);
            }
        }
        return Ok(());
    }
    let p = a.db.open().await?;
    let groups = match &a.filter {
        Some(f) => {
            let q = ListQuery::from_pairs([("filter", f.as_str()), ("count", &a.limit.to_string())])?;
            let list = p.list(ResourceKind::Group, BASE_URL, &q).await?;
            let mut out = vec![];
            for id in list["Resources"].as_array().into_iter().flatten().filter_map(|r| r["id"].as_str()) {
                if let Some(d) = p.group_detail(id, 0, 1).await? {
                    out.push(d.group);
                }
            }
            out
        }
        None => p.directory_groups(&DirectoryQuery { limit: a.limit, ..Default::default() }).await?.items,
    };
    for g in groups {
        if a.json {
            println!("{}", serde_json::to_string(&g)?);
        } else {
            println!(
                "{:<40} {:>6} member(s){}",
                g.display_name,
                g.members,
                if g.grants_access { "  grants access" } else { "" }
            );
        }
    }
    Ok(())
}

pub async fn access(a: AccessArgs) -> Result<()> {
    if a.mode == "show" {
        let rule = a.db.with(async |p| Ok(p.access_rule().await?)).await?;
        println!("{}", serde_json::to_string_pretty(&rule)?);
        return Ok(());
    }
    let changed =
        a.db.with(async |p| {
            let mut granting = vec![];
            for g in &a.grant {
                let d = p.group_detail(g, 0, 1).await?.with_context(|| format!("no group \"{g}\""))?;
                granting.push(d.group.id);
            }
            if a.mode == "all" && !granting.is_empty() {
                bail!("--grant only applies to the rule \"groups\"");
            }
            Ok(p.set_access_rule(&AccessRule { mode: a.mode.clone(), granting_groups: granting }).await?)
        })
        .await?;
    println!("access rule set to {}; {changed} user(s) changed access", a.mode);
    Ok(())
}
