//! Command line and environment of the local runner.

use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;

/// Where the runner listens unless `HERALD_ADDR` or `--addr` says otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3978";
/// Where the embedded store lives unless `HERALD_DATA_DIR` or `--data-dir` says otherwise.
pub const DEFAULT_DATA_DIR: &str = ".herald";
/// Table names in DynamoDB mode unless `HERALD_REFERENCES_TABLE` / `HERALD_OUTBOX_TABLE` are set.
pub const DEFAULT_REFERENCES_TABLE: &str = "herald-references";
pub const DEFAULT_OUTBOX_TABLE: &str = "herald-outbox";
pub const DEFAULT_SCHEDULES_TABLE: &str = "herald-schedules";
pub const DEFAULT_PACING_TABLE: &str = "herald-pacing";

pub const USAGE: &str = "\
herald-local: all of Herald in one process (webhook, notify API, sender, scheduler) for local
development.

USAGE:
    herald-local [--addr HOST:PORT] [--data-dir DIR]
    herald-local --store dynamodb [--dynamodb-endpoint URL]

OPTIONS:
    --addr HOST:PORT            where to listen (HERALD_ADDR, default 127.0.0.1:3978)
    --data-dir DIR              embedded store directory (HERALD_DATA_DIR, default ./.herald)
    --store embedded|dynamodb   which store to run (HERALD_STORE, default embedded)
    --dynamodb-endpoint URL     DynamoDB endpoint for --store dynamodb
                                (HERALD_DYNAMODB_ENDPOINT, default http://127.0.0.1:8000)
    -h, --help                  this text

ENVIRONMENT:
    MicrosoftAppId, MicrosoftAppPassword, MicrosoftAppTenantId, MicrosoftAppType
        unset: accept unauthenticated activities and send without a token, loopback only
               (--addr must then be a loopback address)
        set:   validate Bot Framework tokens and send as the app, exactly as the Lambdas do
    HERALD_API_KEY              notify API and /api/events key (generated and printed when unset)
    HERALD_EVENT_ROUTES         EventBridge routes for POST /api/events (JSON array)
    RUST_LOG                    log filter (default info)
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    Embedded { data_dir: PathBuf },
    Dynamo { endpoint: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub addr: SocketAddr,
    pub store: StoreKind,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum OptionsError {
    #[error("{0}")]
    Help(&'static str),
    #[error("unknown argument {0:?} (see --help)")]
    Unknown(String),
    #[error("{0} needs a value")]
    MissingValue(String),
    #[error("{name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error(
        "refusing to listen on {0}: without MicrosoftAppId, activities are accepted without a \
         token, so anyone who can reach that address could act as Teams. Listen on a loopback \
         address (127.0.0.1 or [::1]), or set MicrosoftAppId and MicrosoftAppPassword so that \
         Bot Framework tokens are validated"
    )]
    Exposed(SocketAddr),
}

/// Without a bot registration the runner trusts every activity (Bot Framework's local
/// convention, which only makes sense on one's own machine): it listens beyond loopback only
/// when tokens are validated.
pub fn check_exposure(addr: SocketAddr, anonymous: bool) -> Result<(), OptionsError> {
    if anonymous && !addr.ip().is_loopback() {
        return Err(OptionsError::Exposed(addr));
    }
    Ok(())
}

impl Options {
    /// Reads the arguments (after the program name); flags win over the environment.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, OptionsError> {
        let env = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut addr = env("HERALD_ADDR");
        let mut data_dir = env("HERALD_DATA_DIR");
        let mut store = env("HERALD_STORE");
        let mut endpoint = env("HERALD_DYNAMODB_ENDPOINT");
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_owned(), Some(value.to_owned()))
                }
                _ => (arg.clone(), None),
            };
            let slot = match flag.as_str() {
                "-h" | "--help" => return Err(OptionsError::Help(USAGE)),
                "--addr" => &mut addr,
                "--data-dir" => &mut data_dir,
                "--store" => &mut store,
                "--dynamodb-endpoint" => &mut endpoint,
                _ => return Err(OptionsError::Unknown(arg)),
            };
            let value = match inline {
                Some(value) => value,
                None => args
                    .next()
                    .ok_or_else(|| OptionsError::MissingValue(flag.clone()))?,
            };
            *slot = Some(value);
        }
        let addr_text = addr.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let addr = addr_text
            .trim()
            .parse::<SocketAddr>()
            .map_err(|e| OptionsError::Invalid {
                name: "HERALD_ADDR",
                problem: format!("{addr_text:?}: {e} (expected HOST:PORT, e.g. 127.0.0.1:3978)"),
            })?;
        let store = match store.as_deref().map(str::trim) {
            None | Some("embedded") => StoreKind::Embedded {
                data_dir: PathBuf::from(data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned())),
            },
            Some("dynamodb") => StoreKind::Dynamo {
                endpoint: endpoint.unwrap_or_else(|| "http://127.0.0.1:8000".to_owned()),
            },
            Some(other) => {
                return Err(OptionsError::Invalid {
                    name: "--store",
                    problem: format!("{other:?} is neither embedded nor dynamodb"),
                });
            }
        };
        Ok(Self { addr, store })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Options, OptionsError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Options::parse(args.iter().map(|a| (*a).to_owned()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_environment_and_flags() {
        let options = parse(&[], &[]).unwrap();
        assert_eq!(options.addr, "127.0.0.1:3978".parse().unwrap());
        assert_eq!(
            options.store,
            StoreKind::Embedded {
                data_dir: PathBuf::from(".herald")
            }
        );
        let options = parse(
            &["--data-dir", "/tmp/x"],
            &[
                ("HERALD_ADDR", "127.0.0.1:4000"),
                ("HERALD_DATA_DIR", "/tmp/y"),
            ],
        )
        .unwrap();
        assert_eq!(options.addr.port(), 4000);
        assert_eq!(
            options.store,
            StoreKind::Embedded {
                data_dir: PathBuf::from("/tmp/x")
            }
        );
        let options = parse(
            &[
                "--store",
                "dynamodb",
                "--dynamodb-endpoint=http://127.0.0.1:8001",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            options.store,
            StoreKind::Dynamo {
                endpoint: "http://127.0.0.1:8001".into()
            }
        );
    }

    #[test]
    fn only_loopback_without_tokens() {
        for loopback in ["127.0.0.1:3978", "127.8.9.10:1", "[::1]:3978"] {
            let addr: SocketAddr = loopback.parse().unwrap();
            assert_eq!(check_exposure(addr, true), Ok(()), "{loopback}");
            assert_eq!(check_exposure(addr, false), Ok(()), "{loopback}");
        }
        for exposed in [
            "0.0.0.0:3978",
            "[::]:3978",
            "192.168.1.20:3978",
            "[fe80::1]:80",
        ] {
            let addr: SocketAddr = exposed.parse().unwrap();
            let refused = check_exposure(addr, true).unwrap_err();
            assert_eq!(refused, OptionsError::Exposed(addr));
            assert!(refused.to_string().contains("MicrosoftAppId"), "{refused}");
            assert_eq!(check_exposure(addr, false), Ok(()), "{exposed}");
        }
    }

    #[test]
    fn rejects_nonsense() {
        assert!(matches!(
            parse(&["--bogus"], &[]),
            Err(OptionsError::Unknown(_))
        ));
        assert!(matches!(
            parse(&["--addr"], &[]),
            Err(OptionsError::MissingValue(_))
        ));
        assert!(matches!(
            parse(&[], &[("HERALD_ADDR", "nowhere")]),
            Err(OptionsError::Invalid { .. })
        ));
        assert!(matches!(
            parse(&["--store", "sqlite"], &[]),
            Err(OptionsError::Invalid { .. })
        ));
        assert!(matches!(parse(&["-h"], &[]), Err(OptionsError::Help(_))));
    }
}
