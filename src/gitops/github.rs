//! GitHub's REST API: issue comments on a pull request, its labels, and issues.
//!
//! Requests follow GitHub's documentation: "List issue comments" (`GET
//! /repos/{owner}/{repo}/issues/{issue_number}/comments`, paginated through the `Link`
//! header), "Create an issue comment" (`POST …/issues/{issue_number}/comments`), "Update an
//! issue comment" (`PATCH …/issues/comments/{comment_id}`)
//! (<https://docs.github.com/en/rest/issues/comments>); "List labels for an issue", "Add
//! labels to an issue" (`POST …/issues/{issue_number}/labels` with `{"labels": […]}`) and
//! "Remove a label from an issue" (`DELETE …/issues/{issue_number}/labels/{name}`)
//! (<https://docs.github.com/en/rest/issues/labels>); "List repository issues", "Create an
//! issue" and "Update an issue" (`state: closed`, `state_reason: completed`)
//! (<https://docs.github.com/en/rest/issues/issues>). Every request carries `Accept:
//! application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28` and `Authorization:
//! Bearer` ([`Http`]).

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use url::Url;

use super::decide::{Issue, LABEL_DRIFT, Posted};
use super::http::{GitopsError, Http, Need, Platform, Request, api_base, next_link, same_origin};

/// Most pages read of one list (100 items each).
const MAX_PAGES: usize = 500;

/// One repository on one GitHub API.
#[derive(Debug, Clone)]
pub struct GitHub {
    api: Url,
    owner: String,
    name: String,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    body: Option<String>,
    user: Option<User>,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct IssueItem {
    number: u64,
    title: String,
    body: Option<String>,
    user: Option<User>,
    pull_request: Option<serde_json::Value>,
}

impl GitHub {
    /// The repository `owner/name` on the API at `api_url` (`GITHUB_API_URL`).
    pub fn new(api_url: &str, repository: &str) -> Result<Self, GitopsError> {
        let api = api_base("GITHUB_API_URL", api_url)?;
        let (owner, name) = repository
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| GitopsError::BadUrl {
                what: "GITHUB_REPOSITORY",
                value: repository.to_owned(),
                source: url::ParseError::EmptyHost,
            })?;
        Ok(GitHub {
            api,
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `API/repos/OWNER/NAME/SEGMENTS…`, each segment percent-encoded.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["repos", &self.owner, &self.name])
                .extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Every page of a list, following `rel="next"` links on the API's host only.
    async fn all<T: DeserializeOwned>(
        &self,
        http: &Http,
        first: Request,
    ) -> Result<Vec<T>, GitopsError> {
        let mut out = Vec::new();
        let mut request = first;
        for _ in 0..MAX_PAGES {
            let Some(response) = http.read(&request).await? else {
                return Ok(out);
            };
            out.extend(response.parse::<Vec<T>>(&request, Platform::GitHub)?);
            let Some(next) = response.link.as_deref().and_then(next_link) else {
                return Ok(out);
            };
            let url = Url::parse(&next)
                .ok()
                .filter(|u| same_origin(u, &self.api))
                .ok_or_else(|| GitopsError::ForeignLink {
                    what: request.what.clone(),
                    link: next.clone(),
                })?;
            request = Request::new(Method::GET, url, request.what.clone(), request.need);
        }
        Err(GitopsError::TooManyPages {
            what: request.what,
            pages: MAX_PAGES,
        })
    }

    /// Every comment of pull request (issue) `number`, oldest first.
    pub async fn comments(&self, http: &Http, number: u64) -> Result<Vec<Posted>, GitopsError> {
        let n = number.to_string();
        let request = Request::new(
            Method::GET,
            self.url(&["issues", &n, "comments"], &[("per_page", "100")]),
            format!("list the comments of pull request #{number}"),
            Need::Read,
        );
        let comments: Vec<Comment> = self.all(http, request).await?;
        Ok(comments
            .into_iter()
            .map(|c| Posted {
                id: c.id.to_string(),
                body: c.body.unwrap_or_default(),
                author: c.user.map(|u| u.login),
            })
            .collect())
    }

    /// Creates a comment on pull request (issue) `number`.
    pub fn create_comment(&self, number: u64, body: &str) -> Request {
        let n = number.to_string();
        Request::new(
            Method::POST,
            self.url(&["issues", &n, "comments"], &[]),
            format!("create the plan comment on pull request #{number}"),
            Need::PullRequestsWrite,
        )
        .json(json!({ "body": body }))
    }

    /// Replaces the body of comment `id`.
    pub fn update_comment(&self, id: &str, body: &str) -> Request {
        Request::new(
            Method::PATCH,
            self.url(&["issues", "comments", id], &[]),
            format!("update the plan comment {id}"),
            Need::PullRequestsWrite,
        )
        .json(json!({ "body": body }))
    }

    /// The labels of pull request (issue) `number`.
    pub async fn labels(&self, http: &Http, number: u64) -> Result<Vec<String>, GitopsError> {
        let n = number.to_string();
        let request = Request::new(
            Method::GET,
            self.url(&["issues", &n, "labels"], &[("per_page", "100")]),
            format!("list the labels of pull request #{number}"),
            Need::Read,
        );
        let labels: Vec<Label> = self.all(http, request).await?;
        Ok(labels.into_iter().map(|l| l.name).collect())
    }

    /// Adds labels to pull request (issue) `number`.
    pub fn add_labels(&self, number: u64, labels: &[&str]) -> Request {
        let n = number.to_string();
        Request::new(
            Method::POST,
            self.url(&["issues", &n, "labels"], &[]),
            format!("label pull request #{number} {}", labels.join(", ")),
            Need::PullRequestsWrite,
        )
        .json(json!({ "labels": labels }))
    }

    /// Removes `label` from pull request (issue) `number`.
    pub fn remove_label(&self, number: u64, label: &str) -> Request {
        let n = number.to_string();
        Request::new(
            Method::DELETE,
            self.url(&["issues", &n, "labels", label], &[]),
            format!("remove the label {label} from pull request #{number}"),
            Need::PullRequestsWrite,
        )
    }

    /// Every open issue (pull requests left out).
    pub async fn open_issues(&self, http: &Http) -> Result<Vec<Issue>, GitopsError> {
        let request = Request::new(
            Method::GET,
            self.url(&["issues"], &[("state", "open"), ("per_page", "100")]),
            "list the open issues",
            Need::Read,
        );
        let items: Vec<IssueItem> = self.all(http, request).await?;
        Ok(items
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .map(|i| Issue {
                number: i.number,
                title: i.title,
                body: i.body.unwrap_or_default(),
                author: i.user.map(|u| u.login),
            })
            .collect())
    }

    /// Opens a drift issue.
    pub fn create_issue(&self, title: &str, body: &str) -> Request {
        Request::new(
            Method::POST,
            self.url(&["issues"], &[]),
            "open the drift issue",
            Need::IssuesWrite,
        )
        .json(json!({ "title": title, "body": body, "labels": [LABEL_DRIFT] }))
    }

    /// Replaces the title and body of issue `number`.
    pub fn update_issue(&self, number: u64, title: &str, body: &str) -> Request {
        let n = number.to_string();
        Request::new(
            Method::PATCH,
            self.url(&["issues", &n], &[]),
            format!("update drift issue #{number}"),
            Need::IssuesWrite,
        )
        .json(json!({ "title": title, "body": body }))
    }

    /// Comments on issue `number` (the drift is gone).
    pub fn comment_issue(&self, number: u64, body: &str) -> Request {
        let n = number.to_string();
        Request::new(
            Method::POST,
            self.url(&["issues", &n, "comments"], &[]),
            format!("comment on drift issue #{number}"),
            Need::IssuesWrite,
        )
        .json(json!({ "body": body }))
    }

    /// Closes issue `number` as completed.
    pub fn close_issue(&self, number: u64) -> Request {
        let n = number.to_string();
        Request::new(
            Method::PATCH,
            self.url(&["issues", &n], &[]),
            format!("close drift issue #{number}"),
            Need::IssuesWrite,
        )
        .json(json!({ "state": "closed", "state_reason": "completed" }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_follow_the_documented_paths_methods_and_bodies() {
        let gh = GitHub::new("https://api.github.com", "contoso/licenses").expect("repo");
        let cases = [
            (
                gh.create_comment(12, "hi"),
                "POST",
                "https://api.github.com/repos/contoso/licenses/issues/12/comments",
                Some(json!({"body": "hi"})),
            ),
            (
                gh.update_comment("991", "hi"),
                "PATCH",
                "https://api.github.com/repos/contoso/licenses/issues/comments/991",
                Some(json!({"body": "hi"})),
            ),
            (
                gh.add_labels(12, &["licensectl:changes"]),
                "POST",
                "https://api.github.com/repos/contoso/licenses/issues/12/labels",
                Some(json!({"labels": ["licensectl:changes"]})),
            ),
            (
                gh.remove_label(12, "licensectl:no changes"),
                "DELETE",
                "https://api.github.com/repos/contoso/licenses/issues/12/labels/licensectl:no%20changes",
                None,
            ),
            (
                gh.create_issue("License drift: t (.)", "b"),
                "POST",
                "https://api.github.com/repos/contoso/licenses/issues",
                Some(
                    json!({"title": "License drift: t (.)", "body": "b", "labels": ["licensectl:drift"]}),
                ),
            ),
            (
                gh.close_issue(4),
                "PATCH",
                "https://api.github.com/repos/contoso/licenses/issues/4",
                Some(json!({"state": "closed", "state_reason": "completed"})),
            ),
        ];
        for (request, method, url, body) in cases {
            assert_eq!(request.method.as_str(), method);
            assert_eq!(request.url.as_str(), url);
            assert_eq!(request.body, body);
        }
    }

    #[test]
    fn an_enterprise_api_keeps_its_path_prefix() {
        let gh = GitHub::new("https://ghe.example/api/v3/", "o/r").expect("repo");
        assert_eq!(
            gh.create_comment(1, "x").url.as_str(),
            "https://ghe.example/api/v3/repos/o/r/issues/1/comments"
        );
    }

    #[test]
    fn a_malformed_repository_or_api_url_is_refused() {
        for (api, repo) in [
            ("https://api.github.com", "no-slash"),
            ("https://api.github.com", "a/b/c"),
            ("https://api.github.com", "/b"),
            ("mailto:x@y", "o/r"),
            ("http://api.example", "o/r"),
            ("not a url", "o/r"),
        ] {
            assert!(GitHub::new(api, repo).is_err(), "{api} {repo}");
        }
    }
}
