//! Azure DevOps' REST API: the plan as one pull-request thread, updated in place.
//!
//! Requests follow Microsoft's documentation (`api-version=7.1`): "Pull Request Threads -
//! List" (`GET {collection}{project}/_apis/git/repositories/{repositoryId}/pullRequests/
//! {pullRequestId}/threads`), "Pull Request Threads - Create" (`POST …/threads` with
//! `comments: [{parentCommentId: 0, content, commentType: 1}]` and `status`), "Pull Request
//! Threads - Update" (`PATCH …/threads/{threadId}` with `status`) and "Pull Request Thread
//! Comments - Update" (`PATCH …/threads/{threadId}/comments/{commentId}` with `content`)
//! (<https://learn.microsoft.com/en-us/rest/api/azure/devops/git/pull-request-threads>,
//! <https://learn.microsoft.com/en-us/rest/api/azure/devops/git/pull-request-thread-comments>).
//! The thread is active while the plan has changes and closed when it has none, so a branch
//! policy that requires resolved comments holds the merge until the plan is reviewed.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::decide::Posted;
use super::http::{AZURE_API_VERSION, GitopsError, Http, Need, Platform, Request, api_base};

/// `CommentThreadStatus.active`.
const ACTIVE: u8 = 1;
/// `CommentThreadStatus.closed`.
const CLOSED: u8 = 4;
/// `CommentType.text`.
const TEXT: u8 = 1;

/// One pull request of one repository.
#[derive(Debug, Clone)]
pub struct AzureDevOps {
    collection: Url,
    project: String,
    repository: String,
    pull_request: u64,
}

#[derive(Deserialize)]
struct Threads {
    value: Vec<Thread>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Thread {
    id: u64,
    #[serde(default)]
    is_deleted: bool,
    #[serde(default)]
    comments: Vec<ThreadComment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadComment {
    id: u64,
    #[serde(default)]
    parent_comment_id: u64,
    content: Option<String>,
    author: Option<Identity>,
    #[serde(default)]
    is_deleted: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    unique_name: Option<String>,
    display_name: Option<String>,
}

impl AzureDevOps {
    /// Pull request `pull_request` of repository `repository` in project `project` of the
    /// organization at `collection_uri` (`SYSTEM_COLLECTIONURI`).
    pub fn new(
        collection_uri: &str,
        project: &str,
        repository: &str,
        pull_request: u64,
    ) -> Result<Self, GitopsError> {
        let collection = api_base("SYSTEM_COLLECTIONURI", collection_uri)?;
        Ok(AzureDevOps {
            collection,
            project: project.to_owned(),
            repository: repository.to_owned(),
            pull_request,
        })
    }

    fn url(&self, tail: &[&str]) -> Url {
        let pr = self.pull_request.to_string();
        let mut url = self.collection.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend([
                    self.project.as_str(),
                    "_apis",
                    "git",
                    "repositories",
                    self.repository.as_str(),
                    "pullRequests",
                    pr.as_str(),
                    "threads",
                ])
                .extend(tail);
        }
        url.query_pairs_mut()
            .append_pair("api-version", AZURE_API_VERSION);
        url
    }

    /// The first comment of every live thread, as `THREAD/COMMENT`.
    pub async fn threads(&self, http: &Http) -> Result<Vec<Posted>, GitopsError> {
        let request = Request::new(
            Method::GET,
            self.url(&[]),
            format!("list the threads of pull request {}", self.pull_request),
            Need::Read,
        );
        let Some(response) = http.read(&request).await? else {
            return Ok(Vec::new());
        };
        let threads: Threads = response.parse(&request, Platform::AzureDevOps)?;
        Ok(threads
            .value
            .into_iter()
            .filter(|t| !t.is_deleted)
            .filter_map(|t| {
                let first = t
                    .comments
                    .into_iter()
                    .find(|c| c.parent_comment_id == 0 && !c.is_deleted)?;
                Some(Posted {
                    id: format!("{}/{}", t.id, first.id),
                    body: first.content.unwrap_or_default(),
                    author: first.author.and_then(|a| a.unique_name.or(a.display_name)),
                })
            })
            .collect())
    }

    /// Creates the plan thread (active with changes, closed without).
    pub fn create_thread(&self, body: &str, changes: bool) -> Request {
        Request::new(
            Method::POST,
            self.url(&[]),
            format!(
                "create the plan thread on pull request {}",
                self.pull_request
            ),
            Need::PullRequestsWrite,
        )
        .json(json!({
            "comments": [{ "parentCommentId": 0, "content": body, "commentType": TEXT }],
            "status": if changes { ACTIVE } else { CLOSED },
        }))
    }

    /// Replaces the content of the thread's first comment, then sets its status.
    pub fn update_thread(&self, posted: &Posted, body: &str, changes: bool) -> Vec<Request> {
        let (thread, comment) = posted.id.split_once('/').unwrap_or((&posted.id, "1"));
        vec![
            Request::new(
                Method::PATCH,
                self.url(&[thread, "comments", comment]),
                format!("update the plan thread {thread}"),
                Need::PullRequestsWrite,
            )
            .json(json!({ "content": body })),
            Request::new(
                Method::PATCH,
                self.url(&[thread]),
                format!("set the status of the plan thread {thread}"),
                Need::PullRequestsWrite,
            )
            .json(json!({ "status": if changes { ACTIVE } else { CLOSED } })),
        ]
    }
}

/// The logging command that attaches `path` (a Markdown file) to the build summary
/// (<https://learn.microsoft.com/en-us/azure/devops/pipelines/scripts/logging-commands#uploadsummary-add-some-markdown-content-to-the-build-summary>);
/// `None` for a path that would break the command (a line break).
pub fn upload_summary_command(path: &str) -> Option<String> {
    if path.contains(['\r', '\n']) {
        return None;
    }
    Some(format!("##vso[task.uploadsummary]{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_requests_follow_the_documented_shapes() {
        let az = AzureDevOps::new("https://dev.azure.com/fabrikam/", "p 1", "r1", 22).expect("az");
        let create = az.create_thread("plan", true);
        assert_eq!(create.method, Method::POST);
        assert_eq!(
            create.url.as_str(),
            "https://dev.azure.com/fabrikam/p%201/_apis/git/repositories/r1/pullRequests/22/threads?api-version=7.1"
        );
        assert_eq!(
            create.body,
            Some(
                json!({"comments": [{"parentCommentId": 0, "content": "plan", "commentType": 1}], "status": 1})
            )
        );
        let posted = Posted {
            id: "7/1".into(),
            body: String::new(),
            author: None,
        };
        let update = az.update_thread(&posted, "new", false);
        assert_eq!(update[0].method, Method::PATCH);
        assert_eq!(
            update[0].url.as_str(),
            "https://dev.azure.com/fabrikam/p%201/_apis/git/repositories/r1/pullRequests/22/threads/7/comments/1?api-version=7.1"
        );
        assert_eq!(update[0].body, Some(json!({"content": "new"})));
        assert_eq!(
            update[1].url.as_str(),
            "https://dev.azure.com/fabrikam/p%201/_apis/git/repositories/r1/pullRequests/22/threads/7?api-version=7.1"
        );
        assert_eq!(update[1].body, Some(json!({"status": 4})));
    }

    #[test]
    fn the_summary_command_refuses_a_path_with_a_line_break() {
        assert_eq!(
            upload_summary_command("/tmp/s.md").as_deref(),
            Some("##vso[task.uploadsummary]/tmp/s.md")
        );
        assert_eq!(
            upload_summary_command("/tmp/a\n##vso[task.setvariable]x"),
            None
        );
    }
}
