//! Local stand-ins of the two platform APIs `licensectl comment` talks to, on loopback:
//! GitHub's REST API (issue comments, labels, issues) and Azure DevOps' pull-request
//! threads. Each checks what the real one requires or documents — the path and method, the
//! headers (`Accept: application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`,
//! `Authorization: Bearer`, a `User-Agent`; `api-version=7.1`), the JSON fields of each body
//! — and answers in the real one's shapes: `Link` pagination, 201 on create, GitHub's 401,
//! 403 ("Resource not accessible by integration") and 422 bodies, Azure DevOps' 203 sign-in
//! page and TF401027 403. Whatever a request gets wrong is answered 400 and recorded as a
//! violation, which the tests assert is empty. Also: the reports the tests post.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use licensectl::plan::{PlanOptions, plan};
use licensectl::render::{Mode, json as json_render};

use crate::util::{config_with, contoso, example};

/// The login GitHub shows for comments made with a workflow's `GITHUB_TOKEN`.
pub(crate) const BOT: &str = "github-actions[bot]";

/// One request as received.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) body: Option<Value>,
}

async fn listen(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn json_response(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// The JSON body of a request (`Err` when it is not JSON) and its record.
fn receive(method: &Method, uri: &Uri, body: &Bytes) -> Result<(Option<Value>, Recorded), ()> {
    let json: Option<Value> = if body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(body).map_err(|_| ())?)
    };
    let record = Recorded {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        body: json.clone(),
    };
    Ok((json, record))
}

/// Exit 0, or the output in the message.
pub(crate) fn assert_ok(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(0), "{}", crate::util::show(out));
}

/// Neither stream holds `secret`.
pub(crate) fn assert_hidden(out: &std::process::Output, secret: &str) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !crate::util::text(stream).contains(secret),
            "the token is printed:\n{}",
            crate::util::show(out)
        );
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn query_of(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// Checks that `body` is a JSON object whose keys are all in `allowed` and that holds
/// every key in `required`.
fn fields(body: &Option<Value>, allowed: &[&str], required: &[&str]) -> Result<(), String> {
    let Some(Value::Object(map)) = body else {
        return Err("the body is not a JSON object".into());
    };
    if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("undocumented field `{extra}`"));
    }
    if let Some(missing) = required.iter().find(|k| !map.contains_key(**k)) {
        return Err(format!("missing field `{missing}`"));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------
// GitHub

#[derive(Debug, Clone)]
pub(crate) struct GhIssue {
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) state: String,
    pub(crate) state_reason: Option<String>,
    pub(crate) labels: Vec<String>,
    pub(crate) pull_request: bool,
    pub(crate) user: String,
}

#[derive(Debug, Clone)]
pub(crate) struct GhComment {
    pub(crate) issue: u64,
    pub(crate) body: String,
    pub(crate) user: String,
}

#[derive(Debug)]
pub(crate) struct GhState {
    token: String,
    owner: String,
    repo: String,
    base: String,
    next_id: u64,
    pub(crate) issues: BTreeMap<u64, GhIssue>,
    pub(crate) comments: BTreeMap<u64, GhComment>,
    /// `pull-requests: write` (comments and labels on pull requests).
    pub(crate) pull_requests_write: bool,
    /// `issues: write`.
    pub(crate) issues_write: bool,
    pub(crate) requests: Vec<Recorded>,
    pub(crate) violations: Vec<String>,
}

impl GhState {
    /// Commenting on a pull request needs `pull-requests: write` or `issues: write`; on an
    /// issue, `issues: write`.
    fn may_comment(&self, is_pr: bool) -> bool {
        self.issues_write || (is_pr && self.pull_requests_write)
    }
}

/// The GitHub REST API stand-in for one repository.
#[derive(Clone)]
pub(crate) struct GitHubApi(pub(crate) Arc<Mutex<GhState>>);

impl GitHubApi {
    /// Repository `owner/repo` accepting `token`, with every permission.
    pub(crate) fn new(repository: &str, token: &str) -> Self {
        let (owner, repo) = repository.split_once('/').expect("owner/repo");
        GitHubApi(Arc::new(Mutex::new(GhState {
            token: token.into(),
            owner: owner.into(),
            repo: repo.into(),
            base: String::new(),
            next_id: 1_000,
            issues: BTreeMap::new(),
            comments: BTreeMap::new(),
            pull_requests_write: true,
            issues_write: true,
            requests: Vec::new(),
            violations: Vec::new(),
        })))
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, GhState> {
        self.0.lock().expect("lock")
    }

    /// Adds pull request `number` (an issue with `pull_request`).
    pub(crate) fn pull_request(&self, number: u64) {
        self.issue(number, &format!("PR {number}"), "", true, "octocat");
    }

    pub(crate) fn issue(&self, number: u64, title: &str, body: &str, pr: bool, user: &str) {
        self.state().issues.insert(
            number,
            GhIssue {
                title: title.into(),
                body: body.into(),
                state: "open".into(),
                state_reason: None,
                labels: Vec::new(),
                pull_request: pr,
                user: user.into(),
            },
        );
    }

    /// Adds a comment by `user` on issue or pull request `issue`.
    pub(crate) fn comment(&self, issue: u64, user: &str, body: &str) -> u64 {
        let mut s = self.state();
        s.next_id += 1;
        let id = s.next_id;
        s.comments.insert(
            id,
            GhComment {
                issue,
                body: body.into(),
                user: user.into(),
            },
        );
        id
    }

    /// The comments on `issue` whose first line is a licensectl marker and whose author
    /// is the bot.
    pub(crate) fn bot_comments(&self, issue: u64) -> Vec<(u64, String)> {
        self.state()
            .comments
            .iter()
            .filter(|(_, c)| c.issue == issue && c.user == BOT)
            .filter(|(_, c)| c.body.starts_with("<!-- licensectl:v1 "))
            .map(|(id, c)| (*id, c.body.clone()))
            .collect()
    }

    pub(crate) fn labels(&self, issue: u64) -> Vec<String> {
        let mut labels = self.state().issues[&issue].labels.clone();
        labels.sort();
        labels
    }

    /// The writes received (POST, PATCH, DELETE), as `METHOD PATH`.
    pub(crate) fn writes(&self) -> Vec<String> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    pub(crate) fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    pub(crate) fn forget_requests(&self) {
        self.state().requests.clear();
    }

    pub(crate) async fn serve(&self) -> String {
        let app = Router::new().fallback(github).with_state(self.clone());
        let base = listen(app).await;
        self.state().base = base.clone();
        base
    }
}

fn gh_error(status: u16, message: &str, docs: &str) -> Response {
    json_response(
        status,
        json!({"message": message, "documentation_url": docs, "status": status.to_string()}),
    )
}

fn gh_not_found() -> Response {
    gh_error(404, "Not Found", "https://docs.github.com/rest")
}

fn gh_user(login: &str) -> Value {
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({"login": login, "id": login.len(), "type": kind})
}

fn gh_comment_json(base: &str, owner: &str, repo: &str, id: u64, c: &GhComment) -> Value {
    json!({
        "id": id,
        "node_id": format!("IC_{id}"),
        "url": format!("{base}/repos/{owner}/{repo}/issues/comments/{id}"),
        "html_url": format!("https://github.com/{owner}/{repo}/pull/{}#issuecomment-{id}", c.issue),
        "issue_url": format!("{base}/repos/{owner}/{repo}/issues/{}", c.issue),
        "body": c.body,
        "user": gh_user(&c.user),
        "created_at": "2026-11-28T10:00:00Z",
        "updated_at": "2026-11-28T10:00:00Z",
        "author_association": "NONE",
    })
}

fn gh_issue_json(base: &str, owner: &str, repo: &str, number: u64, i: &GhIssue) -> Value {
    let mut v = json!({
        "id": number + 5_000,
        "number": number,
        "title": i.title,
        "body": i.body,
        "state": i.state,
        "state_reason": i.state_reason,
        "labels": i.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "user": gh_user(&i.user),
        "url": format!("{base}/repos/{owner}/{repo}/issues/{number}"),
    });
    if i.pull_request {
        v["pull_request"] = json!({"url": format!("{base}/repos/{owner}/{repo}/pulls/{number}")});
    }
    v
}

fn label_json(name: &str) -> Value {
    json!({"id": name.len(), "name": name, "color": "ededed", "default": false, "description": null})
}

/// One page of `items` as GitHub pages a list: `per_page` (default 30, at most 100) and
/// `page` (from 1), with a `Link` header naming the next, last, first and previous pages.
fn gh_page(
    base: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    items: Vec<Value>,
) -> Response {
    let per_page: usize = query
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page: usize = query
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link_to = |p: usize| {
        let mut q = query.clone();
        q.insert("page".into(), p.to_string());
        let qs: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q.iter())
            .finish();
        format!("<{base}{path}?{qs}>")
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    let mut response = json_response(200, Value::Array(slice));
    if !links.is_empty() {
        response
            .headers_mut()
            .insert("link", links.join(", ").parse().expect("link header"));
    }
    response
}

async fn github(
    State(api): State<GitHubApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = api.state();
    let Ok((body, record)) = receive(&method, &uri, &body) else {
        return gh_error(400, "Problems parsing JSON", "https://docs.github.com/rest");
    };
    s.requests.push(record);
    // Headers GitHub requires or documents for every request.
    if header(&headers, "user-agent").is_none_or(str::is_empty) {
        return gh_error(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
            "https://docs.github.com/rest/overview/resources-in-the-rest-api#user-agent-required",
        );
    }
    match header(&headers, "authorization") {
        None => {
            return gh_error(
                401,
                "Requires authentication",
                "https://docs.github.com/rest",
            );
        }
        Some(auth) if auth != format!("Bearer {}", s.token) => {
            return gh_error(401, "Bad credentials", "https://docs.github.com/rest");
        }
        Some(_) => {}
    }
    let mut violation = None;
    if header(&headers, "accept") != Some("application/vnd.github+json") {
        violation = Some("Accept is not application/vnd.github+json".to_owned());
    }
    if header(&headers, "x-github-api-version") != Some("2022-11-28") {
        violation = Some("X-GitHub-Api-Version is not 2022-11-28".to_owned());
    }
    if body.is_some()
        && !header(&headers, "content-type").is_some_and(|c| c.starts_with("application/json"))
    {
        violation = Some("a JSON body without Content-Type: application/json".to_owned());
    }
    if let Some(v) = violation {
        s.violations.push(format!("{method} {uri}: {v}"));
        return gh_error(400, &format!("stand-in: {v}"), "");
    }
    let query = query_of(&uri);
    let segments: Vec<String> = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .map(|seg| {
            url::form_urlencoded::parse(format!("x={seg}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (owner, repo, base) = (s.owner.clone(), s.repo.clone(), s.base.clone());
    let Some(rest) = (match seg.as_slice() {
        ["repos", o, r, rest @ ..] if *o == owner && *r == repo => Some(rest.to_vec()),
        _ => None,
    }) else {
        return gh_not_found();
    };
    let path = uri.path().to_owned();
    let check = |s: &mut GhState, result: Result<(), String>| -> Option<Response> {
        result.err().map(|e| {
            s.violations.push(format!("{method} {path}: {e}"));
            gh_error(400, &format!("stand-in: {e}"), "")
        })
    };
    let forbidden = |docs: &str| {
        gh_error(
            403,
            "Resource not accessible by integration",
            &format!("https://docs.github.com/rest/{docs}"),
        )
    };
    let too_long = |body: &str| body.chars().count() > 65_536;
    let validation_failed = || {
        json_response(
            422,
            json!({
                "message": "Validation Failed",
                "errors": [{"resource": "IssueComment", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"}],
                "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
                "status": "422",
            }),
        )
    };
    let number = |text: &str| text.parse::<u64>().ok();
    match (method.as_str(), rest.as_slice()) {
        ("GET", ["issues"]) => {
            let state = query.get("state").map(String::as_str).unwrap_or("open");
            let items: Vec<Value> = s
                .issues
                .iter()
                .rev()
                .filter(|(_, i)| state == "all" || i.state == state)
                .map(|(n, i)| gh_issue_json(&base, &owner, &repo, *n, i))
                .collect();
            gh_page(&base, uri.path(), &query, items)
        }
        ("POST", ["issues"]) => {
            if let Some(r) = check(
                &mut s,
                fields(
                    &body,
                    &["title", "body", "labels", "assignees", "milestone"],
                    &["title"],
                ),
            ) {
                return r;
            }
            if !s.issues_write {
                return forbidden("issues/issues#create-an-issue");
            }
            let b = body.unwrap_or_default();
            let text = b["body"].as_str().unwrap_or("").to_owned();
            if too_long(&text) {
                return validation_failed();
            }
            let n = s.issues.keys().max().copied().unwrap_or(0) + 1;
            let issue = GhIssue {
                title: b["title"].as_str().unwrap_or("").into(),
                body: text,
                state: "open".into(),
                state_reason: None,
                labels: b["labels"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                pull_request: false,
                user: BOT.into(),
            };
            let v = gh_issue_json(&base, &owner, &repo, n, &issue);
            s.issues.insert(n, issue);
            json_response(201, v)
        }
        ("PATCH", ["issues", n]) => {
            let Some(n) = number(n).filter(|n| s.issues.contains_key(n)) else {
                return gh_not_found();
            };
            if let Some(r) = check(
                &mut s,
                fields(
                    &body,
                    &[
                        "title",
                        "body",
                        "state",
                        "state_reason",
                        "labels",
                        "assignees",
                        "milestone",
                    ],
                    &[],
                ),
            ) {
                return r;
            }
            if !s.issues_write {
                return forbidden("issues/issues#update-an-issue");
            }
            let b = body.unwrap_or_default();
            if let Some(state) = b["state"].as_str()
                && !["open", "closed"].contains(&state)
            {
                return check(&mut s, Err(format!("state `{state}`"))).unwrap_or_else(gh_not_found);
            }
            if let Some(reason) = b["state_reason"].as_str()
                && !["completed", "not_planned", "reopened"].contains(&reason)
            {
                return check(&mut s, Err(format!("state_reason `{reason}`")))
                    .unwrap_or_else(gh_not_found);
            }
            let issue = s.issues.get_mut(&n).expect("present");
            if let Some(t) = b["title"].as_str() {
                issue.title = t.into();
            }
            if let Some(t) = b["body"].as_str() {
                issue.body = t.into();
            }
            if let Some(t) = b["state"].as_str() {
                issue.state = t.into();
            }
            if let Some(t) = b["state_reason"].as_str() {
                issue.state_reason = Some(t.into());
            }
            let v = gh_issue_json(&base, &owner, &repo, n, issue);
            json_response(200, v)
        }
        ("GET", ["issues", n, "comments"]) => {
            let Some(n) = number(n).filter(|n| s.issues.contains_key(n)) else {
                return gh_not_found();
            };
            let items: Vec<Value> = s
                .comments
                .iter()
                .filter(|(_, c)| c.issue == n)
                .map(|(id, c)| gh_comment_json(&base, &owner, &repo, *id, c))
                .collect();
            gh_page(&base, uri.path(), &query, items)
        }
        ("POST", ["issues", n, "comments"]) => {
            let Some(n) = number(n).filter(|n| s.issues.contains_key(n)) else {
                return gh_not_found();
            };
            if let Some(r) = check(&mut s, fields(&body, &["body"], &["body"])) {
                return r;
            }
            let is_pr = s.issues[&n].pull_request;
            if !s.may_comment(is_pr) {
                return forbidden("issues/comments#create-an-issue-comment");
            }
            let text = body.unwrap_or_default()["body"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            if too_long(&text) {
                return validation_failed();
            }
            s.next_id += 1;
            let id = s.next_id;
            let c = GhComment {
                issue: n,
                body: text,
                user: BOT.into(),
            };
            let v = gh_comment_json(&base, &owner, &repo, id, &c);
            s.comments.insert(id, c);
            json_response(201, v)
        }
        ("PATCH", ["issues", "comments", id]) => {
            let Some(id) = number(id).filter(|id| s.comments.contains_key(id)) else {
                return gh_not_found();
            };
            if let Some(r) = check(&mut s, fields(&body, &["body"], &["body"])) {
                return r;
            }
            let is_pr = s.issues[&s.comments[&id].issue].pull_request;
            if !s.may_comment(is_pr) {
                return forbidden("issues/comments#update-an-issue-comment");
            }
            let text = body.unwrap_or_default()["body"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            if too_long(&text) {
                return validation_failed();
            }
            let c = s.comments.get_mut(&id).expect("present");
            c.body = text;
            let c = c.clone();
            json_response(200, gh_comment_json(&base, &owner, &repo, id, &c))
        }
        ("GET", ["issues", n, "labels"]) => {
            let Some(n) = number(n).filter(|n| s.issues.contains_key(n)) else {
                return gh_not_found();
            };
            let items = s.issues[&n].labels.iter().map(|l| label_json(l)).collect();
            gh_page(&base, uri.path(), &query, items)
        }
        ("POST", ["issues", n, "labels"]) => {
            let Some(n) = number(n).filter(|n| s.issues.contains_key(n)) else {
                return gh_not_found();
            };
            if let Some(r) = check(&mut s, fields(&body, &["labels"], &["labels"])) {
                return r;
            }
            if !s.pull_requests_write && !s.issues_write {
                return forbidden("issues/labels#add-labels-to-an-issue");
            }
            let add: Vec<String> = body.unwrap_or_default()["labels"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let issue = s.issues.get_mut(&n).expect("present");
            for label in add {
                if !issue.labels.contains(&label) {
                    issue.labels.push(label);
                }
            }
            let items = issue.labels.iter().map(|l| label_json(l)).collect();
            json_response(200, Value::Array(items))
        }
        ("DELETE", ["issues", n, "labels", name]) => {
            let Some(n) = number(n).filter(|n| s.issues.contains_key(n)) else {
                return gh_not_found();
            };
            if body.is_some() {
                return check(&mut s, Err("a body on DELETE".into())).unwrap_or_else(gh_not_found);
            }
            if !s.pull_requests_write && !s.issues_write {
                return forbidden("issues/labels#remove-a-label-from-an-issue");
            }
            let issue = s.issues.get_mut(&n).expect("present");
            let before = issue.labels.len();
            issue.labels.retain(|l| l != name);
            if issue.labels.len() == before {
                return gh_error(
                    404,
                    "Label does not exist",
                    "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue",
                );
            }
            let items = issue.labels.iter().map(|l| label_json(l)).collect();
            json_response(200, Value::Array(items))
        }
        _ => gh_not_found(),
    }
}

// ------------------------------------------------------------------------------------
// Azure DevOps

#[derive(Debug, Clone)]
pub(crate) struct AzComment {
    pub(crate) id: u64,
    pub(crate) parent: u64,
    pub(crate) content: String,
    pub(crate) author: String,
    pub(crate) kind: String,
}

#[derive(Debug, Clone)]
pub(crate) struct AzThread {
    pub(crate) status: String,
    pub(crate) comments: Vec<AzComment>,
}

#[derive(Debug)]
pub(crate) struct AzState {
    token: String,
    org: String,
    project: String,
    repository: String,
    pub(crate) pull_requests: BTreeMap<u64, BTreeMap<u64, AzThread>>,
    next_thread: u64,
    /// The build service may contribute to pull requests.
    pub(crate) contribute: bool,
    pub(crate) requests: Vec<Recorded>,
    pub(crate) violations: Vec<String>,
}

/// The build service's identity, the author of what a pipeline posts.
pub(crate) const BUILD_SERVICE: &str = "Build\\0b5e0a43-cee1-4d4c-a4ba-4a2f1d0aa0b3";

/// The Azure DevOps pull-request threads stand-in for one repository.
#[derive(Clone)]
pub(crate) struct AzureApi(pub(crate) Arc<Mutex<AzState>>);

/// `CommentThreadStatus` by number (requests may send either form).
const STATUSES: [&str; 7] = [
    "unknown", "active", "fixed", "wontFix", "closed", "byDesign", "pending",
];

impl AzureApi {
    pub(crate) fn new(org: &str, project: &str, repository: &str, token: &str) -> Self {
        AzureApi(Arc::new(Mutex::new(AzState {
            token: token.into(),
            org: org.into(),
            project: project.into(),
            repository: repository.into(),
            pull_requests: BTreeMap::new(),
            next_thread: 1,
            contribute: true,
            requests: Vec::new(),
            violations: Vec::new(),
        })))
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, AzState> {
        self.0.lock().expect("lock")
    }

    /// Adds pull request `id` with a reviewer's thread and a system thread.
    pub(crate) fn pull_request(&self, id: u64) {
        let mut s = self.state();
        let mut threads = BTreeMap::new();
        for (author, content, kind) in [
            ("megan@fabrikam.com", "Why does sales need E5?", "text"),
            (
                "Microsoft.VisualStudio.Services.TFS",
                "Policy status updated",
                "system",
            ),
        ] {
            let id = s.next_thread;
            s.next_thread += 1;
            threads.insert(
                id,
                AzThread {
                    status: "active".into(),
                    comments: vec![AzComment {
                        id: 1,
                        parent: 0,
                        content: content.into(),
                        author: author.into(),
                        kind: kind.into(),
                    }],
                },
            );
        }
        s.pull_requests.insert(id, threads);
    }

    /// The threads of pull request `id` whose first comment starts with a marker.
    pub(crate) fn marked_threads(&self, id: u64) -> Vec<(u64, AzThread)> {
        self.state().pull_requests[&id]
            .iter()
            .filter(|(_, t)| t.comments[0].content.starts_with("<!-- licensectl:v1 "))
            .map(|(n, t)| (*n, t.clone()))
            .collect()
    }

    pub(crate) fn writes(&self) -> Vec<String> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    pub(crate) fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Serves; returns the collection URI (`http://127.0.0.1:PORT/ORG/`).
    pub(crate) async fn serve(&self) -> String {
        let app = Router::new().fallback(azure).with_state(self.clone());
        let base = listen(app).await;
        let org = self.state().org.clone();
        format!("{base}/{org}/")
    }
}

fn az_error(status: u16, message: &str, type_key: &str) -> Response {
    json_response(
        status,
        json!({
            "$id": "1",
            "innerException": null,
            "message": message,
            "typeName": format!("Microsoft.TeamFoundation.Git.Server.{type_key}, Microsoft.TeamFoundation.Git.Server"),
            "typeKey": type_key,
            "errorCode": 0,
            "eventId": 3000,
        }),
    )
}

fn az_comment_json(c: &AzComment) -> Value {
    json!({
        "id": c.id,
        "parentCommentId": c.parent,
        "author": {"displayName": if c.author == BUILD_SERVICE { "Licenses Build Service (fabrikam)" } else { c.author.as_str() }, "uniqueName": c.author, "id": "0b5e0a43"},
        "content": c.content,
        "publishedDate": "2026-11-28T10:00:00Z",
        "lastUpdatedDate": "2026-11-28T10:00:00Z",
        "lastContentUpdatedDate": "2026-11-28T10:00:00Z",
        "commentType": c.kind,
        "usersLiked": [],
    })
}

fn az_thread_json(id: u64, t: &AzThread) -> Value {
    json!({
        "id": id,
        "publishedDate": "2026-11-28T10:00:00Z",
        "lastUpdatedDate": "2026-11-28T10:00:00Z",
        "comments": t.comments.iter().map(az_comment_json).collect::<Vec<_>>(),
        "status": t.status,
        "threadContext": null,
        "properties": {},
        "identities": null,
        "isDeleted": false,
    })
}

fn az_status(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| STATUSES.get(n as usize))
            .map(|s| (*s).to_owned()),
        Value::String(s) if STATUSES.contains(&s.as_str()) => Some(s.clone()),
        _ => None,
    }
}

async fn azure(
    State(api): State<AzureApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = api.state();
    let Ok((body, record)) = receive(&method, &uri, &body) else {
        return az_error(
            400,
            "Value cannot be null.\r\nParameter name: body",
            "ArgumentNullException",
        );
    };
    s.requests.push(record);
    if header(&headers, "authorization") != Some(format!("Bearer {}", s.token).as_str()) {
        // Azure DevOps answers an unauthenticated request with its sign-in page.
        return (
            StatusCode::NON_AUTHORITATIVE_INFORMATION,
            [("content-type", "text/html; charset=utf-8")],
            "<html><head><title>Azure DevOps Services | Sign In</title></head><body></body></html>",
        )
            .into_response();
    }
    let query = query_of(&uri);
    match query.get("api-version").map(String::as_str) {
        Some("7.1") => {}
        Some(other) => {
            return az_error(
                400,
                &format!(
                    "The requested REST API version of {other} is out of range for this server."
                ),
                "VssVersionOutOfRangeException",
            );
        }
        None => {
            s.violations.push(format!("{method} {uri}: no api-version"));
            return az_error(
                400,
                "No api-version was supplied for the request.",
                "VssVersionNotSpecifiedException",
            );
        }
    }
    if header(&headers, "accept").is_none_or(|a| !a.contains("application/json")) {
        s.violations
            .push(format!("{method} {uri}: Accept is not application/json"));
        return az_error(400, "stand-in: Accept", "Violation");
    }
    if body.is_some()
        && !header(&headers, "content-type").is_some_and(|c| c.starts_with("application/json"))
    {
        s.violations.push(format!(
            "{method} {uri}: body without Content-Type: application/json"
        ));
        return az_error(400, "stand-in: Content-Type", "Violation");
    }
    let seg: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let (org, project, repository) = (s.org.clone(), s.project.clone(), s.repository.clone());
    let (pr, rest) = match seg.as_slice() {
        [
            o,
            p,
            "_apis",
            "git",
            "repositories",
            r,
            "pullRequests",
            pr,
            "threads",
            rest @ ..,
        ] if *o == org && *p == project && *r == repository => match pr.parse::<u64>() {
            Ok(pr) if s.pull_requests.contains_key(&pr) => (pr, rest.to_vec()),
            _ => {
                return az_error(
                    404,
                    "TF401180: The requested pull request was not found.",
                    "GitPullRequestNotFoundException",
                );
            }
        },
        _ => {
            return az_error(
                404,
                "The controller for path was not found or does not implement IController.",
                "HttpException",
            );
        }
    };
    let path = uri.path().to_owned();
    let violation = |s: &mut AzState, e: String| {
        s.violations.push(format!("{method} {path}: {e}"));
        az_error(400, &format!("stand-in: {e}"), "Violation")
    };
    let forbidden = || {
        az_error(
            403,
            "TF401027: You need the Git 'PullRequestContribute' permission to perform this action. Details: identity 'Build\\0b5e0a43', scope 'repository'.",
            "GitNeedsPermissionException",
        )
    };
    if method != Method::GET && !s.contribute {
        return forbidden();
    }
    match (method.as_str(), rest.as_slice()) {
        ("GET", []) => {
            let threads = &s.pull_requests[&pr];
            let value: Vec<Value> = threads
                .iter()
                .map(|(id, t)| az_thread_json(*id, t))
                .collect();
            json_response(200, json!({"value": value, "count": value.len()}))
        }
        ("POST", []) => {
            if let Err(e) = fields(
                &body,
                &[
                    "comments",
                    "status",
                    "properties",
                    "threadContext",
                    "pullRequestThreadContext",
                ],
                &["comments"],
            ) {
                return violation(&mut s, e);
            }
            let b = body.unwrap_or_default();
            let Some(comments) = b["comments"].as_array().filter(|c| c.len() == 1) else {
                return violation(&mut s, "comments is not one comment".into());
            };
            let c = &comments[0];
            if let Err(e) = fields(
                &Some(c.clone()),
                &["parentCommentId", "content", "commentType"],
                &["content"],
            ) {
                return violation(&mut s, e);
            }
            if c["parentCommentId"].as_u64().unwrap_or(0) != 0
                || c["commentType"] != json!(1) && c["commentType"] != json!("text")
            {
                return violation(
                    &mut s,
                    "the first comment is not a text comment without parent".into(),
                );
            }
            let content = c["content"].as_str().unwrap_or("").to_owned();
            if content.chars().count() > 150_000 {
                return az_error(
                    400,
                    "The comment content exceeds the maximum length.",
                    "InvalidArgumentValueException",
                );
            }
            let status = match b.get("status") {
                None => "active".to_owned(),
                Some(v) => match az_status(v) {
                    Some(st) => st,
                    None => return violation(&mut s, format!("status {v}")),
                },
            };
            let id = s.next_thread;
            s.next_thread += 1;
            let thread = AzThread {
                status,
                comments: vec![AzComment {
                    id: 1,
                    parent: 0,
                    content,
                    author: BUILD_SERVICE.into(),
                    kind: "text".into(),
                }],
            };
            let v = az_thread_json(id, &thread);
            s.pull_requests.get_mut(&pr).expect("pr").insert(id, thread);
            json_response(200, v)
        }
        ("PATCH", [thread]) => {
            let Some(t) = thread
                .parse::<u64>()
                .ok()
                .filter(|t| s.pull_requests[&pr].contains_key(t))
            else {
                return az_error(
                    404,
                    "TF401181: The requested pull request comment thread was not found.",
                    "GitPullRequestCommentThreadNotFoundException",
                );
            };
            if let Err(e) = fields(
                &body,
                &["status", "properties", "comments", "threadContext"],
                &[],
            ) {
                return violation(&mut s, e);
            }
            let b = body.unwrap_or_default();
            let status = match b.get("status") {
                None => None,
                Some(v) => match az_status(v) {
                    Some(st) => Some(st),
                    None => return violation(&mut s, format!("status {v}")),
                },
            };
            let thread = s
                .pull_requests
                .get_mut(&pr)
                .expect("pr")
                .get_mut(&t)
                .expect("thread");
            if let Some(st) = status {
                thread.status = st;
            }
            let v = az_thread_json(t, thread);
            json_response(200, v)
        }
        ("PATCH", [thread, "comments", comment]) => {
            let found = thread.parse::<u64>().ok().and_then(|t| {
                let c = comment.parse::<u64>().ok()?;
                s.pull_requests[&pr]
                    .get(&t)?
                    .comments
                    .iter()
                    .position(|x| x.id == c)
                    .map(|i| (t, i))
            });
            let Some((t, i)) = found else {
                return az_error(
                    404,
                    "TF401181: The requested pull request comment thread was not found.",
                    "GitPullRequestCommentThreadNotFoundException",
                );
            };
            if let Err(e) = fields(&body, &["content"], &["content"]) {
                return violation(&mut s, e);
            }
            let content = body.unwrap_or_default()["content"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            if content.chars().count() > 150_000 {
                return az_error(
                    400,
                    "The comment content exceeds the maximum length.",
                    "InvalidArgumentValueException",
                );
            }
            let c = &mut s
                .pull_requests
                .get_mut(&pr)
                .expect("pr")
                .get_mut(&t)
                .expect("t")
                .comments[i];
            if c.author != BUILD_SERVICE {
                return az_error(
                    403,
                    "TF401179: You cannot edit another user's comment.",
                    "GitPullRequestCommentCannotEditException",
                );
            }
            c.content = content;
            let v = az_comment_json(c);
            json_response(200, v)
        }
        _ => az_error(
            404,
            "The controller for path was not found or does not implement IController.",
            "HttpException",
        ),
    }
}

// ------------------------------------------------------------------------------------
// Reports

/// The JSON report of the example config against its tenant (changes, destructive).
pub(crate) fn contoso_report(mode: Mode) -> String {
    let loaded = licensectl::config::load(&example());
    let desired = loaded.desired.expect("valid example");
    json_render::render(&plan(&desired, &contoso(), &PlanOptions::default()), mode)
}

/// A different plan of the same tenant (grace keeps her direct E3).
pub(crate) fn changed_report(mode: Mode) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_with(
        dir.path(),
        &[(
            "licenses/engineering.yaml",
            "  grace@contoso.com:                 # E3 now comes from SG-License-M365-E3; drop the direct copy\n    licenses: []",
            "  grace@contoso.com:\n    profile: knowledge-worker",
        )],
        &[],
    );
    let loaded = licensectl::config::load(&config);
    let desired = loaded.desired.expect("valid config");
    json_render::render(&plan(&desired, &contoso(), &PlanOptions::default()), mode)
}

/// The example's report with its changes (and, for a drift report, its findings and the
/// rules' findings) taken
/// out, counts to match: no changes (no drift).
pub(crate) fn quiet_report(mode: Mode) -> String {
    let mut v: Value = serde_json::from_str(&contoso_report(mode)).expect("json");
    v["changes"] = json!([]);
    v["seats"] = json!([]);
    v["has_changes"] = json!(false);
    for key in [
        "add",
        "change",
        "remove",
        "usage_locations",
        "principals_changed",
    ] {
        v["summary"][key] = json!(0);
    }
    if mode == Mode::Drift {
        v["findings"] = json!([]);
        if v.get("rules").is_some() {
            v["rules"]["findings"] = json!([]);
        }
        v["summary"]["findings"] = json!(0);
        v["has_drift"] = json!(false);
    } else {
        let rule_findings = v
            .get("rules")
            .and_then(|r| r["findings"].as_array())
            .is_some_and(|f| !f.is_empty());
        v["has_drift"] =
            json!(!v["findings"].as_array().expect("findings").is_empty() || rule_findings);
    }
    v.to_string()
}
