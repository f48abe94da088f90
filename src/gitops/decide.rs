//! What to do on the platform, decided from what it holds: create or update the plan
//! comment (or leave it), which labels to add and remove, and whether to open, update or
//! close the drift issue. Pure: lists in, a decision out; the HTTP requests are built and
//! sent elsewhere.

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

use super::marker::{self, State, Target};

/// Label of a pull request whose plan (of any target) has changes.
pub const LABEL_CHANGES: &str = "licensectl:changes";
/// Label of a pull request whose plans have no changes.
pub const LABEL_NO_CHANGES: &str = "licensectl:no-changes";
/// Label of a pull request whose plan takes a license away from a principal entirely.
pub const LABEL_DESTRUCTIVE: &str = "licensectl:destructive";
/// Label of a drift issue.
pub const LABEL_DRIFT: &str = "licensectl:drift";

/// A comment as the platform holds it (a GitHub issue comment, or the first comment of an
/// Azure DevOps thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The platform's id (GitHub: the comment id; Azure DevOps: `THREAD/COMMENT`).
    pub id: String,
    /// Its Markdown.
    pub body: String,
    /// Who wrote it (GitHub login, Azure DevOps unique name), when the platform says.
    pub author: Option<String>,
}

/// Whose marked comments are taken as licensectl's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author<'a> {
    /// Only this author's (GitHub: `github-actions[bot]` for `GITHUB_TOKEN`): a marker
    /// copied into somebody else's comment is ignored.
    Exactly(&'a str),
    /// Any author's.
    Anyone,
}

impl Author<'_> {
    fn trusts(self, author: Option<&str>) -> bool {
        match self {
            Author::Exactly(login) => author == Some(login),
            Author::Anyone => true,
        }
    }
}

/// What to do with the plan comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentAction<'a> {
    /// Post a new comment.
    Create,
    /// Replace this comment's body.
    Update(&'a Posted),
    /// This comment already says exactly this.
    Unchanged(&'a Posted),
    /// No changes and no earlier comment: post nothing.
    Skip,
}

/// The target's comment among `posted`: the newest trusted one whose first line is the
/// target's marker.
pub fn find<'a>(posted: &'a [Posted], target: &Target, author: Author<'_>) -> Option<&'a Posted> {
    posted
        .iter()
        .rev()
        .find(|p| author.trusts(p.author.as_deref()) && marker::is_for(&p.body, target))
}

/// Create, update, leave or skip: a pull request keeps one comment per target; a plan
/// without changes updates an existing comment but creates none unless
/// `comment_without_changes`.
pub fn comment_action<'a>(
    posted: &'a [Posted],
    target: &Target,
    author: Author<'_>,
    body: &str,
    has_changes: bool,
    comment_without_changes: bool,
) -> CommentAction<'a> {
    match find(posted, target, author) {
        Some(existing) if existing.body == body => CommentAction::Unchanged(existing),
        Some(existing) => CommentAction::Update(existing),
        None if has_changes || comment_without_changes => CommentAction::Create,
        None => CommentAction::Skip,
    }
}

/// The states of every target's comment on the pull request once `target` is in `state`:
/// the other targets' from their markers, this one's as given.
pub fn states_after(
    posted: &[Posted],
    target: &Target,
    state: State,
    author: Author<'_>,
) -> Vec<State> {
    let mut latest: std::collections::BTreeMap<String, State> = Default::default();
    for p in posted.iter().filter(|p| author.trusts(p.author.as_deref())) {
        if let Some((key, state)) = marker::read(&p.body) {
            latest.insert(key, state);
        }
    }
    latest.insert(target.key().to_owned(), state);
    latest.into_values().collect()
}

/// Labels to add and to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelChanges {
    /// Missing labels to add.
    pub add: Vec<&'static str>,
    /// Present labels to remove.
    pub remove: Vec<&'static str>,
}

/// The licensectl labels a pull request should carry given the states of its targets'
/// comments, against the labels it has: `changes` when any target has changes, otherwise
/// `no-changes`; `destructive` when any plan is destructive. Other labels are left alone.
pub fn labels(current: &[String], states: &[State]) -> LabelChanges {
    let changes = states.iter().any(|s| s.changes);
    let destructive = states.iter().any(|s| s.changes && s.destructive);
    let wanted = [
        (LABEL_CHANGES, changes),
        (LABEL_NO_CHANGES, !changes),
        (LABEL_DESTRUCTIVE, destructive),
    ];
    let has = |label: &str| current.iter().any(|c| c == label);
    let mut out = LabelChanges::default();
    for (label, want) in wanted {
        match (want, has(label)) {
            (true, false) => out.add.push(label),
            (false, true) => out.remove.push(label),
            _ => {}
        }
    }
    out
}

/// An open issue as the platform holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Its number.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its Markdown.
    pub body: String,
    /// Who opened it.
    pub author: Option<String>,
}

/// What to do with the drift issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueAction<'a> {
    /// Open a new issue.
    Open,
    /// Replace this issue's title and body.
    Update(&'a Issue),
    /// This issue already says exactly this.
    Unchanged(&'a Issue),
    /// Comment that the drift is gone and close this issue.
    Close(&'a Issue),
    /// No drift and no open issue.
    Nothing,
}

/// The title of a target's drift issue: `License drift: TENANT (CONFIG DIR)`.
pub fn drift_title(target: &Target) -> String {
    format!("License drift: {}", target.title())
}

/// Open, update, leave or close: one open issue per target while drift lasts.
pub fn drift_action<'a>(
    open: &'a [Issue],
    target: &Target,
    author: Author<'_>,
    has_drift: bool,
    title: &str,
    body: &str,
) -> IssueAction<'a> {
    let existing = open
        .iter()
        .find(|i| author.trusts(i.author.as_deref()) && marker::is_for(&i.body, target));
    match (existing, has_drift) {
        (Some(issue), true) if issue.body == body && issue.title == title => {
            IssueAction::Unchanged(issue)
        }
        (Some(issue), true) => IssueAction::Update(issue),
        (Some(issue), false) => IssueAction::Close(issue),
        (None, true) => IssueAction::Open,
        (None, false) => IssueAction::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::marker::marker;

    const BOT: Author<'static> = Author::Exactly("github-actions[bot]");

    fn state(changes: bool, destructive: bool) -> State {
        State {
            changes,
            destructive,
        }
    }

    fn posted(id: &str, target: &Target, s: State, author: &str) -> Posted {
        Posted {
            id: id.into(),
            body: format!("{}\nplan {id}", marker(target, s)),
            author: Some(author.into()),
        }
    }

    #[test]
    fn one_comment_per_target_created_then_updated_in_place() {
        let prod = Target::of("contoso.onmicrosoft.com", "prod");
        let test = Target::of("contoso.onmicrosoft.com", "test");
        let body = format!("{}\nplan new", marker(&prod, state(true, false)));
        assert_eq!(
            comment_action(&[], &prod, BOT, &body, true, false),
            CommentAction::Create
        );
        let list = vec![
            posted("1", &prod, state(true, false), "github-actions[bot]"),
            posted("2", &test, state(true, false), "github-actions[bot]"),
        ];
        assert_eq!(
            comment_action(&list, &prod, BOT, &body, true, false),
            CommentAction::Update(&list[0])
        );
        assert_eq!(
            comment_action(&list, &prod, BOT, &list[0].body, true, false),
            CommentAction::Unchanged(&list[0])
        );
    }

    #[test]
    fn no_changes_update_an_existing_comment_but_create_none() {
        let prod = Target::named("prod");
        let body = format!("{}\nno changes", marker(&prod, state(false, false)));
        assert_eq!(
            comment_action(&[], &prod, BOT, &body, false, false),
            CommentAction::Skip
        );
        assert_eq!(
            comment_action(&[], &prod, BOT, &body, false, true),
            CommentAction::Create
        );
        let list = vec![posted(
            "9",
            &prod,
            state(true, false),
            "github-actions[bot]",
        )];
        assert_eq!(
            comment_action(&list, &prod, BOT, &body, false, false),
            CommentAction::Update(&list[0])
        );
    }

    #[test]
    fn a_marker_in_someone_elses_comment_is_not_ours() {
        let prod = Target::named("prod");
        let list = vec![posted("5", &prod, state(false, false), "mallory")];
        assert_eq!(
            comment_action(&list, &prod, BOT, "x", true, false),
            CommentAction::Create
        );
        assert_eq!(
            comment_action(&list, &prod, Author::Anyone, "x", true, false),
            CommentAction::Update(&list[0])
        );
        assert_eq!(
            states_after(&list, &Target::named("test"), state(false, false), BOT),
            vec![state(false, false)]
        );
    }

    #[test]
    fn labels_follow_every_targets_latest_state() {
        let has = |labels: &[&str]| labels.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
        let cases = [
            (
                vec![],
                vec![state(true, false)],
                vec![LABEL_CHANGES],
                vec![],
            ),
            (
                vec![LABEL_CHANGES, LABEL_DESTRUCTIVE, "bug"],
                vec![state(false, false)],
                vec![LABEL_NO_CHANGES],
                vec![LABEL_CHANGES, LABEL_DESTRUCTIVE],
            ),
            (
                vec![LABEL_NO_CHANGES],
                vec![state(false, false), state(true, true)],
                vec![LABEL_CHANGES, LABEL_DESTRUCTIVE],
                vec![LABEL_NO_CHANGES],
            ),
            (
                vec![LABEL_CHANGES],
                vec![state(true, false)],
                vec![],
                vec![],
            ),
        ];
        for (current, states, add, remove) in cases {
            let got = labels(&has(&current), &states);
            assert_eq!(
                (got.add, got.remove),
                (add, remove),
                "{current:?} {states:?}"
            );
        }
        let prod = Target::named("prod");
        let test = Target::named("test");
        let list = vec![
            posted("1", &test, state(true, true), "github-actions[bot]"),
            posted("2", &prod, state(true, false), "github-actions[bot]"),
        ];
        let mut after = states_after(&list, &prod, state(false, false), BOT);
        after.sort_by_key(|s| (s.changes, s.destructive));
        assert_eq!(after, vec![state(false, false), state(true, true)]);
    }

    #[test]
    fn a_drift_issue_opens_updates_and_closes_with_the_drift() {
        let prod = Target::of("contoso.onmicrosoft.com", "prod");
        let title = drift_title(&prod);
        assert_eq!(title, "License drift: contoso.onmicrosoft.com (prod)");
        let body = format!("{}\ndrift", marker(&prod, state(true, false)));
        assert_eq!(
            drift_action(&[], &prod, BOT, true, &title, &body),
            IssueAction::Open
        );
        assert_eq!(
            drift_action(&[], &prod, BOT, false, &title, &body),
            IssueAction::Nothing
        );
        let open = vec![Issue {
            number: 4,
            title: title.clone(),
            body: body.clone(),
            author: Some("github-actions[bot]".into()),
        }];
        assert_eq!(
            drift_action(&open, &prod, BOT, true, &title, &body),
            IssueAction::Unchanged(&open[0])
        );
        assert_eq!(
            drift_action(&open, &prod, BOT, true, &title, "other"),
            IssueAction::Update(&open[0])
        );
        assert_eq!(
            drift_action(&open, &prod, BOT, false, &title, &body),
            IssueAction::Close(&open[0])
        );
        let other = Target::of("contoso.onmicrosoft.com", "test");
        assert_eq!(
            drift_action(&open, &other, BOT, false, &title, &body),
            IssueAction::Nothing
        );
    }
}
