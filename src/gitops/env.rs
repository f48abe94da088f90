//! Which CI platform runs us, read from the variables it sets, and the pull request of a
//! GitHub event. Pure: the caller passes a lookup of environment variables and the text of
//! the event file.
//!
//! GitHub Actions: `GITHUB_ACTIONS=true`, `GITHUB_API_URL`, `GITHUB_REPOSITORY`,
//! `GITHUB_EVENT_PATH`, `GITHUB_STEP_SUMMARY`, `GITHUB_SERVER_URL`, `GITHUB_RUN_ID`
//! (<https://docs.github.com/en/actions/reference/variables-reference#default-environment-variables>);
//! the token is the workflow's `GITHUB_TOKEN`, passed as an environment variable.
//! Azure Pipelines: `TF_BUILD=True`, `SYSTEM_COLLECTIONURI`, `SYSTEM_TEAMPROJECTID`,
//! `BUILD_REPOSITORY_ID`, `SYSTEM_PULLREQUEST_PULLREQUESTID`, `SYSTEM_ACCESSTOKEN`
//! (<https://learn.microsoft.com/en-us/azure/devops/pipelines/build/variables>).

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

use serde::Deserialize;

use super::http::Token;

/// Where we run.
#[derive(Debug, Clone)]
pub enum Ci {
    /// GitHub Actions.
    GitHub(GitHubEnv),
    /// Azure Pipelines.
    AzureDevOps(AzureEnv),
    /// Neither.
    None,
}

/// The GitHub Actions variables licensectl uses.
#[derive(Debug, Clone)]
pub struct GitHubEnv {
    /// `GITHUB_API_URL` (`https://api.github.com`).
    pub api_url: String,
    /// `GITHUB_REPOSITORY` (`owner/name`).
    pub repository: String,
    /// `GITHUB_EVENT_NAME`.
    pub event_name: Option<String>,
    /// `GITHUB_EVENT_PATH`.
    pub event_path: Option<String>,
    /// `GITHUB_STEP_SUMMARY`.
    pub step_summary: Option<String>,
    /// The run's page, from `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY` and `GITHUB_RUN_ID`.
    pub run_url: Option<String>,
    /// `GITHUB_TOKEN`.
    pub token: Option<Token>,
}

/// The Azure Pipelines variables licensectl uses.
#[derive(Debug, Clone)]
pub struct AzureEnv {
    /// `SYSTEM_COLLECTIONURI` (`https://dev.azure.com/ORG/`).
    pub collection_uri: String,
    /// `SYSTEM_TEAMPROJECTID`.
    pub project_id: String,
    /// `BUILD_REPOSITORY_ID`.
    pub repository_id: String,
    /// `SYSTEM_PULLREQUEST_PULLREQUESTID`, on pull-request validation builds.
    pub pull_request_id: Option<u64>,
    /// `SYSTEM_ACCESSTOKEN` (mapped into the step's environment explicitly).
    pub token: Option<Token>,
    /// The build's results page, from `SYSTEM_COLLECTIONURI`, `SYSTEM_TEAMPROJECT` and
    /// `BUILD_BUILDID`.
    pub build_url: Option<String>,
    /// `AGENT_TEMPDIRECTORY`, where the summary file is written.
    pub temp_dir: Option<String>,
}

/// A required variable that is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{platform} sets {name}, but it is missing or empty")]
pub struct MissingVariable {
    /// `GitHub Actions` or `Azure Pipelines`.
    pub platform: &'static str,
    /// The variable.
    pub name: &'static str,
}

/// Detects the platform from `get` (an environment lookup; empty values count as unset).
pub fn detect(get: &dyn Fn(&str) -> Option<String>) -> Result<Ci, MissingVariable> {
    let var = |name: &str| get(name).filter(|v| !v.is_empty());
    if var("GITHUB_ACTIONS").as_deref() == Some("true") {
        let need = |name: &'static str| {
            var(name).ok_or(MissingVariable {
                platform: "GitHub Actions",
                name,
            })
        };
        let repository = need("GITHUB_REPOSITORY")?;
        let run_url = match (var("GITHUB_SERVER_URL"), var("GITHUB_RUN_ID")) {
            (Some(server), Some(run)) => Some(format!(
                "{}/{repository}/actions/runs/{run}",
                server.trim_end_matches('/')
            )),
            _ => None,
        };
        return Ok(Ci::GitHub(GitHubEnv {
            api_url: var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            repository,
            event_name: var("GITHUB_EVENT_NAME"),
            event_path: var("GITHUB_EVENT_PATH"),
            step_summary: var("GITHUB_STEP_SUMMARY"),
            run_url,
            token: var("GITHUB_TOKEN").map(Token::new),
        }));
    }
    if var("TF_BUILD").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        let need = |name: &'static str| {
            var(name).ok_or(MissingVariable {
                platform: "Azure Pipelines",
                name,
            })
        };
        let collection_uri = need("SYSTEM_COLLECTIONURI")?;
        let build_url = match (var("SYSTEM_TEAMPROJECT"), var("BUILD_BUILDID")) {
            (Some(project), Some(build)) => Some(format!(
                "{}/{project}/_build/results?buildId={build}",
                collection_uri.trim_end_matches('/')
            )),
            _ => None,
        };
        return Ok(Ci::AzureDevOps(AzureEnv {
            project_id: need("SYSTEM_TEAMPROJECTID")?,
            repository_id: need("BUILD_REPOSITORY_ID")?,
            pull_request_id: var("SYSTEM_PULLREQUEST_PULLREQUESTID").and_then(|v| v.parse().ok()),
            token: var("SYSTEM_ACCESSTOKEN").map(Token::new),
            collection_uri,
            build_url,
            temp_dir: var("AGENT_TEMPDIRECTORY"),
        }));
    }
    Ok(Ci::None)
}

/// The pull request a GitHub event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPullRequest {
    /// Its number.
    pub number: u64,
    /// True when its head branch lives in another repository (a fork), whose runs get a
    /// read-only token.
    pub from_fork: bool,
}

#[derive(Deserialize)]
struct Event {
    pull_request: Option<PullRequest>,
    issue: Option<IssueRef>,
}

#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    head: Option<Side>,
    base: Option<Side>,
}

#[derive(Deserialize)]
struct Side {
    repo: Option<Repo>,
}

#[derive(Deserialize)]
struct Repo {
    full_name: String,
}

#[derive(Deserialize)]
struct IssueRef {
    number: u64,
    pull_request: Option<serde_json::Value>,
}

/// The pull request of a GitHub event payload (`pull_request`, `pull_request_target`, or an
/// `issue_comment` on a pull request); `None` for other events (`schedule`, `push`, …) and
/// for a payload that does not read.
pub fn event_pull_request(event: &str) -> Option<EventPullRequest> {
    let event: Event = serde_json::from_str(event).ok()?;
    if let Some(pr) = event.pull_request {
        let name = |side: &Option<Side>| {
            side.as_ref()
                .and_then(|s| s.repo.as_ref())
                .map(|r| r.full_name.clone())
        };
        let (head, base) = (name(&pr.head), name(&pr.base));
        return Some(EventPullRequest {
            number: pr.number,
            from_fork: head.is_none() || head != base,
        });
    }
    let issue = event.issue?;
    issue.pull_request.as_ref()?;
    Some(EventPullRequest {
        number: issue.number,
        from_fork: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn github_actions_is_told_by_its_variables() {
        let get = lookup(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "contoso/licenses"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_TOKEN", "ghs_secret"),
        ]);
        let Ci::GitHub(gh) = detect(&get).expect("detects") else {
            panic!("not github");
        };
        assert_eq!(gh.api_url, "https://api.github.com");
        assert_eq!(
            gh.run_url.as_deref(),
            Some("https://github.com/contoso/licenses/actions/runs/42")
        );
        assert!(
            !format!("{gh:?}").contains("ghs_secret"),
            "the token is redacted"
        );
        let missing = detect(&lookup(&[("GITHUB_ACTIONS", "true")])).expect_err("no repo");
        assert_eq!(missing.name, "GITHUB_REPOSITORY");
    }

    #[test]
    fn azure_pipelines_is_told_by_its_variables() {
        let get = lookup(&[
            ("TF_BUILD", "True"),
            ("SYSTEM_COLLECTIONURI", "https://dev.azure.com/fabrikam/"),
            ("SYSTEM_TEAMPROJECTID", "p1"),
            ("SYSTEM_TEAMPROJECT", "Licenses"),
            ("BUILD_BUILDID", "7"),
            ("BUILD_REPOSITORY_ID", "r1"),
            ("SYSTEM_PULLREQUEST_PULLREQUESTID", "22"),
        ]);
        let Ci::AzureDevOps(az) = detect(&get).expect("detects") else {
            panic!("not azure");
        };
        assert_eq!(az.pull_request_id, Some(22));
        assert!(az.token.is_none());
        assert_eq!(
            az.build_url.as_deref(),
            Some("https://dev.azure.com/fabrikam/Licenses/_build/results?buildId=7")
        );
        assert!(matches!(detect(&lookup(&[])), Ok(Ci::None)));
    }

    #[test]
    fn the_pull_request_of_an_event_and_whether_it_comes_from_a_fork() {
        let same = r#"{"pull_request": {"number": 12, "head": {"repo": {"full_name": "o/r"}}, "base": {"repo": {"full_name": "o/r"}}}}"#;
        let fork = r#"{"pull_request": {"number": 13, "head": {"repo": {"full_name": "m/r"}}, "base": {"repo": {"full_name": "o/r"}}}}"#;
        let comment = r#"{"issue": {"number": 14, "pull_request": {"url": "x"}}}"#;
        let issue = r#"{"issue": {"number": 15}}"#;
        assert_eq!(
            event_pull_request(same),
            Some(EventPullRequest {
                number: 12,
                from_fork: false
            })
        );
        assert_eq!(event_pull_request(fork).map(|p| p.from_fork), Some(true));
        assert_eq!(event_pull_request(comment).map(|p| p.number), Some(14));
        assert_eq!(event_pull_request(issue), None);
        assert_eq!(event_pull_request(r#"{"schedule": "0 3 * * *"}"#), None);
        assert_eq!(event_pull_request("not json"), None);
    }
}
