//! National clouds: which Graph root and which Entra authority host to talk to.
//!
//! `--cloud` picks both (https://learn.microsoft.com/en-us/graph/deployments); `--graph-url` and `--authority-host` override
//! them one at a time (the emulator, a proxy). Plain `http://` is refused unless the host
//! is a loopback address, so that tokens never cross a network in clear text.

use std::fmt;
use std::net::IpAddr;

use url::Url;

/// A Microsoft cloud, each with its own Graph root and authority host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Cloud {
    /// Worldwide (and GCC moderate): graph.microsoft.com, login.microsoftonline.com.
    #[default]
    Global,
    /// US Government L4 (GCC High): graph.microsoft.us, login.microsoftonline.us.
    Usgov,
    /// US Government L5 (DoD): dod-graph.microsoft.us, login.microsoftonline.us.
    UsgovDod,
    /// China, operated by 21Vianet: microsoftgraph.chinacloudapi.cn, login.chinacloudapi.cn.
    China,
}

impl Cloud {
    /// The Graph service root (no version segment).
    pub fn graph_root(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::Usgov => "https://graph.microsoft.us",
            Cloud::UsgovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The Entra ID authority host that issues tokens for this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::Usgov | Cloud::UsgovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cloud::Global => "global",
            Cloud::Usgov => "usgov",
            Cloud::UsgovDod => "usgov-dod",
            Cloud::China => "china",
        })
    }
}

/// Errors choosing endpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// The URL does not parse.
    #[error("{what} '{url}' is not a valid URL")]
    InvalidUrl {
        /// Which setting (`--graph-url`, `--authority-host`).
        what: &'static str,
        /// The value given.
        url: String,
        /// The parser's complaint.
        source: url::ParseError,
    },
    /// The URL uses a scheme other than https (or http on loopback).
    #[error(
        "{what} '{url}' uses plain http on a non-loopback host; use https (plain http is allowed only for 127.0.0.0/8, [::1] and localhost, e.g. the local emulator)"
    )]
    InsecureUrl {
        /// Which setting.
        what: &'static str,
        /// The value given.
        url: String,
    },
    /// The URL uses an unsupported scheme.
    #[error("{what} '{url}' must be an https:// URL")]
    UnsupportedScheme {
        /// Which setting.
        what: &'static str,
        /// The value given.
        url: String,
    },
}

/// The endpoints one run talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Graph service root without version, e.g. `https://graph.microsoft.com`.
    pub graph_root: Url,
    /// Authority host, e.g. `https://login.microsoftonline.com`.
    pub authority_host: Url,
}

impl Endpoints {
    /// Resolves the endpoints: the cloud's defaults, each replaced by its override.
    pub fn resolve(
        cloud: Cloud,
        graph_url: Option<&str>,
        authority_host: Option<&str>,
    ) -> Result<Self, CloudError> {
        let graph_root = check_url("--graph-url", graph_url.unwrap_or(cloud.graph_root()))?;
        let authority_host = check_url(
            "--authority-host",
            authority_host.unwrap_or(cloud.authority_host()),
        )?;
        Ok(Self {
            graph_root,
            authority_host,
        })
    }

    /// The v1.0 base URL, ending in `/v1.0/`.
    pub fn graph_v1(&self) -> Url {
        let mut base = self.graph_root.clone();
        let path = format!("{}/v1.0/", base.path().trim_end_matches('/'));
        base.set_path(&path);
        base
    }

    /// The token scope: `<graph root>/.default`.
    pub fn scope(&self) -> String {
        format!(
            "{}/.default",
            self.graph_root.as_str().trim_end_matches('/')
        )
    }
}

/// True for `localhost`, 127.0.0.0/8 and `[::1]`.
pub(crate) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn check_url(what: &'static str, raw: &str) -> Result<Url, CloudError> {
    let url = Url::parse(raw).map_err(|source| CloudError::InvalidUrl {
        what,
        url: raw.to_owned(),
        source,
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        "http" => Err(CloudError::InsecureUrl {
            what,
            url: raw.to_owned(),
        }),
        _ => Err(CloudError::UnsupportedScheme {
            what,
            url: raw.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_map_to_documented_hosts() {
        let cases = [
            (
                Cloud::Global,
                "https://graph.microsoft.com/",
                "https://login.microsoftonline.com/",
                "https://graph.microsoft.com/.default",
            ),
            (
                Cloud::Usgov,
                "https://graph.microsoft.us/",
                "https://login.microsoftonline.us/",
                "https://graph.microsoft.us/.default",
            ),
            (
                Cloud::UsgovDod,
                "https://dod-graph.microsoft.us/",
                "https://login.microsoftonline.us/",
                "https://dod-graph.microsoft.us/.default",
            ),
            (
                Cloud::China,
                "https://microsoftgraph.chinacloudapi.cn/",
                "https://login.chinacloudapi.cn/",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
        ];
        for (cloud, graph, login, scope) in cases {
            let e = Endpoints::resolve(cloud, None, None).expect("valid");
            assert_eq!(e.graph_root.as_str(), graph, "{cloud}");
            assert_eq!(e.authority_host.as_str(), login, "{cloud}");
            assert_eq!(e.scope(), scope, "{cloud}");
        }
    }

    #[test]
    fn overrides_and_http_refusal() {
        let cases: [(&str, Result<&str, &str>); 8] = [
            ("http://127.0.0.1:8080", Ok("http://127.0.0.1:8080/v1.0/")),
            ("http://127.9.9.9", Ok("http://127.9.9.9/v1.0/")),
            ("http://localhost:1", Ok("http://localhost:1/v1.0/")),
            ("http://[::1]:9", Ok("http://[::1]:9/v1.0/")),
            (
                "https://proxy.example/graph",
                Ok("https://proxy.example/graph/v1.0/"),
            ),
            (
                "http://graph.example.com",
                Err("plain http on a non-loopback host"),
            ),
            ("http://10.0.0.1", Err("plain http on a non-loopback host")),
            ("ftp://x", Err("must be an https:// URL")),
        ];
        for (raw, expected) in cases {
            let got = Endpoints::resolve(Cloud::Global, Some(raw), None);
            match (got, expected) {
                (Ok(e), Ok(v1)) => assert_eq!(e.graph_v1().as_str(), v1, "{raw}"),
                (Err(err), Err(text)) => {
                    assert!(err.to_string().contains(text), "{raw}: {err}")
                }
                (got, expected) => panic!("{raw}: got {got:?}, expected {expected:?}"),
            }
        }
        let err = Endpoints::resolve(Cloud::Global, Some("not a url"), None).expect_err("invalid");
        assert_eq!(
            err,
            CloudError::InvalidUrl {
                what: "--graph-url",
                url: "not a url".into(),
                source: url::ParseError::RelativeUrlWithoutBase,
            }
        );
        assert_eq!(
            err.to_string(),
            "--graph-url 'not a url' is not a valid URL"
        );
        let err = Endpoints::resolve(Cloud::Global, None, Some("http://login.example"))
            .expect_err("insecure authority");
        assert!(err.to_string().starts_with("--authority-host"), "{err}");
        let scope = Endpoints::resolve(Cloud::China, Some("http://127.0.0.1:5/"), None)
            .expect("loopback")
            .scope();
        assert_eq!(scope, "http://127.0.0.1:5/.default");
    }
}
