//! The flows `licensectl comment` runs: read what the platform holds, decide
//! ([`decide`](super::decide)), then send the writes (or list them, in a dry run).
//!
//! [`PullRequestThreads`] is what a platform must offer for the plan comment: list the
//! first comments of a pull request's threads, and build the requests that create or update
//! one. GitHub (issue comments) and Azure DevOps (threads) implement it; labels and drift
//! issues exist on GitHub only.

use std::fmt;

use super::azure_devops::AzureDevOps;
use super::decide::{self, Author, CommentAction, IssueAction, LabelChanges, Posted};
use super::github::GitHub;
use super::http::{GitopsError, Http, Platform, Request};
use super::marker::{State, Target};

/// A pull request's comments, on one platform.
// Used with static dispatch inside licensectl on a single-threaded runtime, so the futures'
// `Send`-ness (what the lint is about) does not matter.
#[allow(async_fn_in_trait)]
pub trait PullRequestThreads {
    /// "pull request #12", for messages.
    fn describe(&self) -> String;
    /// The first comment of each thread, oldest first.
    async fn list(&self, http: &Http) -> Result<Vec<Posted>, GitopsError>;
    /// The requests that post `body` as a new comment.
    fn create(&self, body: &str, state: State) -> Vec<Request>;
    /// The requests that replace `posted` with `body`.
    fn update(&self, posted: &Posted, body: &str, state: State) -> Vec<Request>;
}

/// A pull request on GitHub.
#[derive(Debug, Clone, Copy)]
pub struct GitHubPullRequest<'a> {
    /// The repository.
    pub repo: &'a GitHub,
    /// The pull request's number.
    pub number: u64,
}

impl PullRequestThreads for GitHubPullRequest<'_> {
    fn describe(&self) -> String {
        format!("pull request #{}", self.number)
    }

    async fn list(&self, http: &Http) -> Result<Vec<Posted>, GitopsError> {
        self.repo.comments(http, self.number).await
    }

    fn create(&self, body: &str, _state: State) -> Vec<Request> {
        vec![self.repo.create_comment(self.number, body)]
    }

    fn update(&self, posted: &Posted, body: &str, _state: State) -> Vec<Request> {
        vec![self.repo.update_comment(&posted.id, body)]
    }
}

impl PullRequestThreads for AzureDevOps {
    fn describe(&self) -> String {
        "the pull request".to_owned()
    }

    async fn list(&self, http: &Http) -> Result<Vec<Posted>, GitopsError> {
        self.threads(http).await
    }

    fn create(&self, body: &str, state: State) -> Vec<Request> {
        vec![self.create_thread(body, state.changes)]
    }

    fn update(&self, posted: &Posted, body: &str, state: State) -> Vec<Request> {
        self.update_thread(posted, body, state.changes)
    }
}

/// What happened to the plan comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentOutcome {
    /// A new comment was posted.
    Created,
    /// The target's comment was updated (its id).
    Updated(String),
    /// The target's comment already said this (its id).
    Unchanged(String),
    /// No changes and no earlier comment: nothing posted.
    Skipped,
}

impl fmt::Display for CommentOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommentOutcome::Created => f.write_str("created the plan comment"),
            CommentOutcome::Updated(id) => write!(f, "updated the plan comment {id}"),
            CommentOutcome::Unchanged(id) => write!(f, "the plan comment {id} is up to date"),
            CommentOutcome::Skipped => {
                f.write_str("no changes and no earlier comment: nothing posted")
            }
        }
    }
}

/// Creates, updates, leaves or skips the target's comment; returns what happened and the
/// comments as read (for the labels).
pub async fn sync_comment<P: PullRequestThreads>(
    pr: &P,
    http: &Http,
    target: &Target,
    state: State,
    body: &str,
    author: Author<'_>,
    comment_without_changes: bool,
) -> Result<(CommentOutcome, Vec<Posted>), GitopsError> {
    let posted = pr.list(http).await?;
    let action = decide::comment_action(
        &posted,
        target,
        author,
        body,
        state.changes,
        comment_without_changes,
    );
    let (outcome, requests) = match action {
        CommentAction::Create => (CommentOutcome::Created, pr.create(body, state)),
        CommentAction::Update(existing) => (
            CommentOutcome::Updated(existing.id.clone()),
            pr.update(existing, body, state),
        ),
        CommentAction::Unchanged(existing) => {
            (CommentOutcome::Unchanged(existing.id.clone()), Vec::new())
        }
        CommentAction::Skip => (CommentOutcome::Skipped, Vec::new()),
    };
    for request in &requests {
        http.write(request).await?;
    }
    Ok((outcome, posted))
}

/// Adds and removes the licensectl labels of GitHub pull request `number` so that they
/// follow every target's latest comment (`posted`, with `target` now in `state`).
pub async fn sync_labels(
    repo: &GitHub,
    http: &Http,
    number: u64,
    posted: &[Posted],
    target: &Target,
    state: State,
    author: Author<'_>,
) -> Result<LabelChanges, GitopsError> {
    let current = repo.labels(http, number).await?;
    let states = decide::states_after(posted, target, state, author);
    let changes = decide::labels(&current, &states);
    if !changes.add.is_empty() {
        http.write(&repo.add_labels(number, &changes.add)).await?;
    }
    for label in &changes.remove {
        match http.write(&repo.remove_label(number, label)).await {
            // Removed meanwhile: what we wanted.
            Err(GitopsError::Status { status: 404, .. }) => {}
            other => {
                other?;
            }
        }
    }
    Ok(changes)
}

/// What happened to the drift issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    /// An issue was opened (its number, unknown in a dry run).
    Opened(Option<u64>),
    /// The issue was updated.
    Updated(u64),
    /// The issue already said this.
    Unchanged(u64),
    /// The drift is gone: the issue was commented on and closed.
    Closed(u64),
    /// No drift and no open issue.
    Nothing,
}

impl fmt::Display for IssueOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueOutcome::Opened(Some(n)) => write!(f, "opened drift issue #{n}"),
            IssueOutcome::Opened(None) => f.write_str("opened a drift issue"),
            IssueOutcome::Updated(n) => write!(f, "updated drift issue #{n}"),
            IssueOutcome::Unchanged(n) => write!(f, "drift issue #{n} is up to date"),
            IssueOutcome::Closed(n) => write!(f, "the drift is gone: closed drift issue #{n}"),
            IssueOutcome::Nothing => f.write_str("no drift and no open drift issue"),
        }
    }
}

/// Opens, updates, leaves or closes the target's drift issue.
pub async fn sync_drift_issue(
    repo: &GitHub,
    http: &Http,
    target: &Target,
    has_drift: bool,
    body: &str,
    closing_comment: &str,
    author: Author<'_>,
) -> Result<IssueOutcome, GitopsError> {
    let open = repo.open_issues(http).await?;
    let title = decide::drift_title(target);
    match decide::drift_action(&open, target, author, has_drift, &title, body) {
        IssueAction::Open => {
            let request = repo.create_issue(&title, body);
            let number = match http.write(&request).await? {
                Some(response) => {
                    #[derive(serde::Deserialize)]
                    struct Created {
                        number: u64,
                    }
                    Some(
                        response
                            .parse::<Created>(&request, Platform::GitHub)?
                            .number,
                    )
                }
                None => None,
            };
            Ok(IssueOutcome::Opened(number))
        }
        IssueAction::Update(issue) => {
            http.write(&repo.update_issue(issue.number, &title, body))
                .await?;
            Ok(IssueOutcome::Updated(issue.number))
        }
        IssueAction::Unchanged(issue) => Ok(IssueOutcome::Unchanged(issue.number)),
        IssueAction::Close(issue) => {
            http.write(&repo.comment_issue(issue.number, closing_comment))
                .await?;
            http.write(&repo.close_issue(issue.number)).await?;
            Ok(IssueOutcome::Closed(issue.number))
        }
        IssueAction::Nothing => Ok(IssueOutcome::Nothing),
    }
}
