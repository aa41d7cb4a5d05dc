//! The simulated IdP's directory: people and groups made up from the run id, and the plan that
//! takes them through joiners, movers and leavers. The plan depends only on the sizes, so a
//! test can say in advance how many users end active, inactive or deleted.

use std::collections::BTreeSet;

const GIVEN: [&str; 16] =
    ["Ann", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lee", "Max", "Nia", "Oto", "Pam"];
const FAMILY: [&str; 12] =
    ["Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones", "Khan", "Lopez"];
const TITLES: [&str; 6] = ["Engineer", "Designer", "Analyst", "Account Executive", "Support Lead", "Recruiter"];
const DEPARTMENTS: [&str; 6] = ["Engineering", "Design", "Finance", "Sales", "Support", "People"];
const GROUPS: [&str; 8] = ["Engineering", "Sales", "Support", "Finance", "Marketing", "Legal", "People", "Design"];

/// A person in the simulated IdP, and what the IdP believes about them.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub user_name: String,
    pub external_id: String,
    pub given: String,
    pub family: String,
    pub title: String,
    pub department: String,
    pub employee_number: String,
    pub active: bool,
    pub deleted: bool,
    /// The server's id, once created (or found by the existence check).
    pub id: Option<String>,
}

impl Person {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given, self.family)
    }
}

/// A group in the simulated IdP.
#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub display_name: String,
    pub external_id: String,
    /// Indexes into the people.
    pub members: BTreeSet<usize>,
    pub deleted: bool,
    pub id: Option<String>,
}

/// One step of a run; each is one to four requests and one tick of the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// An IdP's own "Test connection" (Entra: a GUID lookup; JumpCloud: create, add, remove, delete).
    TestConnection,
    /// Existence check, then create (or adopt and update when found).
    Join(usize),
    /// Create the group and give it its first members.
    PushGroup(usize),
    /// A mover's attribute change (title and department).
    UpdateProfile(usize),
    /// A mover changes group: out of `from`, into `to`.
    MoveGroup {
        user: usize,
        from: usize,
        to: usize,
    },
    RenameGroup(usize),
    Deactivate(usize),
    DeleteUser(usize),
    DeleteGroup(usize),
    /// Okta's import: pages of 100 until `totalResults`.
    Import,
    /// Read back a user and compare with what the IdP believes.
    VerifyUser(usize),
    VerifyGroup(usize),
    /// Delete everything the run left (only with `SimOptions::cleanup`).
    Cleanup,
}

/// The directory and the plan for one run.
pub(crate) struct Directory {
    pub people: Vec<Person>,
    pub teams: Vec<Team>,
}

impl Directory {
    /// `users` people and `groups` groups, their names unique to `run_id`.
    pub fn new(run_id: &str, users: usize, groups: usize) -> Directory {
        let people = (0..users)
            .map(|i| {
                let given = GIVEN[i % GIVEN.len()].to_string();
                let family = FAMILY[(i / GIVEN.len()) % FAMILY.len()].to_string();
                Person {
                    user_name: format!(
                        "{}.{}.{i:04}@sim-{run_id}.example.com",
                        given.to_lowercase(),
                        family.to_lowercase()
                    ),
                    external_id: format!("sim-{run_id}-u{i:04}"),
                    title: TITLES[i % TITLES.len()].to_string(),
                    department: DEPARTMENTS[i % DEPARTMENTS.len()].to_string(),
                    employee_number: format!("{}", 10_000 + i),
                    given,
                    family,
                    active: true,
                    deleted: false,
                    id: None,
                }
            })
            .collect();
        let teams = (0..groups)
            .map(|g| {
                let base = GROUPS[g % GROUPS.len()];
                let round = g / GROUPS.len();
                let name = if round == 0 { base.to_string() } else { format!("{base} {}", round + 1) };
                Team {
                    display_name: format!("{name} (sim {run_id})"),
                    external_id: format!("sim-{run_id}-g{g:03}"),
                    members: (0..users).filter(|i| i % groups == g).collect(),
                    deleted: false,
                    id: None,
                }
            })
            .collect();
        Directory { people, teams }
    }
}

/// How many of each kind of step a run of this size holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sizes {
    pub movers: usize,
    pub leavers: usize,
    pub deleted_users: usize,
    pub deleted_groups: usize,
}

pub(crate) fn sizes(users: usize, groups: usize, deletes: bool) -> Sizes {
    let movers = users.div_ceil(5);
    let leavers = if users == 0 { 0 } else { (users / 10).max(1) };
    let deleted_users = if deletes { leavers.div_ceil(2) } else { 0 };
    let deleted_groups = usize::from(deletes && groups >= 2);
    Sizes { movers, leavers, deleted_users, deleted_groups }
}

/// The steps of a run, in order. Movers are every fifth person from the first, leavers the last
/// tenth; where the IdP deletes, the first half of the leavers are deleted after deactivation,
/// and so is the last group.
pub(crate) fn plan(users: usize, groups: usize, deletes: bool, okta: bool) -> Vec<Step> {
    let s = sizes(users, groups, deletes);
    let mut steps = vec![Step::TestConnection];
    steps.extend((0..users).map(Step::Join));
    steps.extend((0..groups).map(Step::PushGroup));
    let movers: Vec<usize> = (0..users).step_by(5).collect();
    steps.extend(movers.iter().map(|&i| Step::UpdateProfile(i)));
    if groups >= 2 {
        steps.extend(movers.iter().map(|&i| Step::MoveGroup { user: i, from: i % groups, to: (i + 1) % groups }));
    }
    if groups >= 1 {
        steps.push(Step::RenameGroup(0));
    }
    let leavers: Vec<usize> = (users - s.leavers..users).collect();
    steps.extend(leavers.iter().map(|&i| Step::Deactivate(i)));
    steps.extend(leavers.iter().take(s.deleted_users).map(|&i| Step::DeleteUser(i)));
    if s.deleted_groups == 1 {
        steps.push(Step::DeleteGroup(groups - 1));
    }
    if okta {
        steps.push(Step::Import);
    }
    steps.extend((0..users).map(Step::VerifyUser));
    steps.extend((0..groups).map(Step::VerifyGroup));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_directory() {
        assert_eq!(sizes(50, 5, true), Sizes { movers: 10, leavers: 5, deleted_users: 3, deleted_groups: 1 });
        assert_eq!(sizes(20, 3, false), Sizes { movers: 4, leavers: 2, deleted_users: 0, deleted_groups: 0 });
        assert_eq!(sizes(1, 1, true), Sizes { movers: 1, leavers: 1, deleted_users: 1, deleted_groups: 0 });
        assert_eq!(sizes(0, 0, true), Sizes { movers: 0, leavers: 0, deleted_users: 0, deleted_groups: 0 });
    }

    #[test]
    fn plan_covers_joiners_movers_and_leavers() {
        let count = |steps: &[Step], f: fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count();
        let okta = plan(20, 3, false, true);
        assert_eq!(count(&okta, |s| matches!(s, Step::Join(_))), 20);
        assert_eq!(count(&okta, |s| matches!(s, Step::MoveGroup { .. })), 4, "every fifth user moves");
        assert_eq!(count(&okta, |s| matches!(s, Step::Deactivate(18 | 19))), 2, "the last tenth leave");
        assert_eq!(count(&okta, |s| matches!(s, Step::DeleteUser(_) | Step::DeleteGroup(_))), 0, "Okta never deletes");
        assert_eq!(count(&okta, |s| matches!(s, Step::Import)), 1);
        let entra = plan(20, 3, true, false);
        assert_eq!(count(&entra, |s| matches!(s, Step::DeleteUser(18) | Step::DeleteGroup(2))), 2);
        assert!(plan(0, 0, true, false).len() == 1, "an empty directory only tests the connection");
    }

    #[test]
    fn names_are_unique_per_run() {
        let d = Directory::new("ab12", 200, 10);
        let names: BTreeSet<_> = d.people.iter().map(|p| p.user_name.clone()).collect();
        assert_eq!(names.len(), 200, "every userName differs");
        let groups: BTreeSet<_> = d.teams.iter().map(|t| t.display_name.clone()).collect();
        assert_eq!(groups.len(), 10, "every displayName differs");
        assert_eq!(d.teams.iter().map(|t| t.members.len()).sum::<usize>(), 200, "everyone in one group");
    }
}
