//! Where a traffic split lives, as a string: the `id` of `kong_traffic_split`.
//!
//! A resource cannot read another resource's state, so a split's id carries
//! everything needed to reach the same load balancer and *read* its weights,
//! and nothing else: `kong_upgrade.traffic_split_id` rebuilds a read-only
//! [`SplitReader`] from it and verifies the split the other resource owns.
//!
//! Format: the driver name, then `?` and `key=value` pairs joined by `&`, in
//! a fixed order, every value percent-encoded (only `A–Z a–z 0–9 - . _ ~`
//! stay as they are), e.g.
//!
//! ```text
//! haproxy?runtime_api=%2Frun%2Fhaproxy.sock&backend=kong&server_x=x&server_y=y
//! nginx?upstream_file=%2Fetc%2Fnginx%2Fkong.conf&upstream=kong&server_x=10.0.0.1%3A8000&server_y=10.0.0.2%3A8000
//! kong_upstream?admin_url=https%3A%2F%2Fedge%3A8444%2F&upstream=kong&target_x=x%3A8000&target_y=y%3A8000
//! external
//! ```
//!
//! Never a secret: the edge Kong's admin token, nginx's commands and TLS
//! material stay out; a reader of a `kong_upstream` split authenticates with
//! the token its caller passes (the provider's Admin API settings).

use super::{
    DriverError, HaproxyDriver, KongUpstreamDriver, NginxDriver, RuntimeApiAddress, TrafficDriver,
    TrafficWeight, Weights,
};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Everything but RFC 3986's unreserved characters is encoded, so `&`, `=`,
/// `?` and `%` inside a value can never be mistaken for structure.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The non-secret settings that reach one split's load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitLocator {
    Haproxy {
        runtime_api: RuntimeApiAddress,
        backend: String,
        server_x: String,
        server_y: String,
    },
    Nginx {
        upstream_file: PathBuf,
        upstream: String,
        server_x: String,
        server_y: String,
    },
    KongUpstream {
        admin_url: String,
        upstream: String,
        target_x: String,
        target_y: String,
    },
    /// Weights applied by other resources: there is nothing to read.
    External,
}

/// Why a string is not a split locator, or cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LocatorError {
    #[error("{text:?} is an id from an earlier version of the provider, which did not say how to read the split; refresh the kong_traffic_split (e.g. `terraform apply -refresh-only`) and it records its current id")]
    Legacy { text: String },

    #[error("{text:?} is not a kong_traffic_split id: it starts with {kind:?}, not haproxy, nginx, kong_upstream or external")]
    UnknownDriver { text: String, kind: String },

    #[error("the kong_traffic_split id lacks {key:?} for its {kind} driver")]
    Missing {
        kind: &'static str,
        key: &'static str,
    },

    #[error("the kong_traffic_split id has {key:?}, which its {kind} driver does not use")]
    UnknownKey { kind: &'static str, key: String },

    #[error("the kong_traffic_split id has {key:?} more than once")]
    Duplicate { key: String },

    #[error("the kong_traffic_split id has an empty {key:?}")]
    Empty { key: String },

    #[error("the kong_traffic_split id's {key:?} is not percent-encoded UTF-8")]
    Encoding { key: String },

    #[error("the kong_traffic_split uses the external driver: other resources apply its weights and there is no load balancer to read them from. Refer to a split with the haproxy, nginx or kong_upstream driver, or give this resource its own traffic block with `external {{ observe {{ ... }} }}`, which judges each weight once the load balancer is observed carrying it")]
    External,

    #[error("the kong_traffic_split id does not describe a usable {kind} driver: {source}")]
    Driver {
        kind: &'static str,
        source: DriverError,
    },
}

const HAPROXY_KEYS: [&str; 4] = ["runtime_api", "backend", "server_x", "server_y"];
const NGINX_KEYS: [&str; 4] = ["upstream_file", "upstream", "server_x", "server_y"];
const KONG_UPSTREAM_KEYS: [&str; 4] = ["admin_url", "upstream", "target_x", "target_y"];

impl SplitLocator {
    /// The driver block's name.
    pub fn kind(&self) -> &'static str {
        match self {
            SplitLocator::Haproxy { .. } => "haproxy",
            SplitLocator::Nginx { .. } => "nginx",
            SplitLocator::KongUpstream { .. } => "kong_upstream",
            SplitLocator::External => "external",
        }
    }

    /// `(key, value)` in the order the id writes them.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        match self {
            SplitLocator::Haproxy {
                runtime_api,
                backend,
                server_x,
                server_y,
            } => zip(
                HAPROXY_KEYS,
                [
                    runtime_api.setting(),
                    backend.clone(),
                    server_x.clone(),
                    server_y.clone(),
                ],
            ),
            SplitLocator::Nginx {
                upstream_file,
                upstream,
                server_x,
                server_y,
            } => zip(
                NGINX_KEYS,
                [
                    upstream_file.to_string_lossy().into_owned(),
                    upstream.clone(),
                    server_x.clone(),
                    server_y.clone(),
                ],
            ),
            SplitLocator::KongUpstream {
                admin_url,
                upstream,
                target_x,
                target_y,
            } => zip(
                KONG_UPSTREAM_KEYS,
                [
                    admin_url.clone(),
                    upstream.clone(),
                    target_x.clone(),
                    target_y.clone(),
                ],
            ),
            SplitLocator::External => Vec::new(),
        }
    }

    /// A read-only view of the split. `admin_token` authenticates against a
    /// `kong_upstream` split's edge Kong (the id never carries one).
    pub fn reader(&self, admin_token: Option<String>) -> Result<SplitReader, LocatorError> {
        let kind = self.kind();
        let invalid = |source| LocatorError::Driver { kind, source };
        let driver = match self {
            SplitLocator::Haproxy {
                runtime_api,
                backend,
                server_x,
                server_y,
            } => super::Driver::Haproxy(
                HaproxyDriver::new(runtime_api.clone(), backend, server_x, server_y)
                    .map_err(invalid)?,
            ),
            SplitLocator::Nginx {
                upstream_file,
                upstream,
                server_x,
                server_y,
            } => super::Driver::Nginx(
                NginxDriver::new(upstream_file.clone(), upstream, server_x, server_y)
                    .map_err(invalid)?,
            ),
            SplitLocator::KongUpstream {
                admin_url,
                upstream,
                target_x,
                target_y,
            } => {
                let driver = KongUpstreamDriver::new(admin_url, upstream, target_x, target_y)
                    .map_err(invalid)?;
                super::Driver::KongUpstream(match admin_token {
                    Some(token) => driver.with_admin_token(token),
                    None => driver,
                })
            }
            SplitLocator::External => return Err(LocatorError::External),
        };
        Ok(SplitReader {
            locator: self.clone(),
            driver,
        })
    }
}

fn zip(keys: [&'static str; 4], values: [String; 4]) -> Vec<(&'static str, String)> {
    keys.into_iter().zip(values).collect()
}

impl fmt::Display for SplitLocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())?;
        for (i, (key, value)) in self.pairs().iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{key}={}", utf8_percent_encode(value, VALUE))?;
        }
        Ok(())
    }
}

impl FromStr for SplitLocator {
    type Err = LocatorError;

    fn from_str(text: &str) -> Result<SplitLocator, LocatorError> {
        let (kind, query) = text.split_once('?').unwrap_or((text, ""));
        match kind {
            "haproxy" => {
                let [runtime_api, backend, server_x, server_y] =
                    values("haproxy", &HAPROXY_KEYS, query)?;
                Ok(SplitLocator::Haproxy {
                    runtime_api: RuntimeApiAddress::from_setting(&runtime_api),
                    backend,
                    server_x,
                    server_y,
                })
            }
            "nginx" => {
                let [upstream_file, upstream, server_x, server_y] =
                    values("nginx", &NGINX_KEYS, query)?;
                Ok(SplitLocator::Nginx {
                    upstream_file: PathBuf::from(upstream_file),
                    upstream,
                    server_x,
                    server_y,
                })
            }
            "kong_upstream" => {
                let [admin_url, upstream, target_x, target_y] =
                    values("kong_upstream", &KONG_UPSTREAM_KEYS, query)?;
                Ok(SplitLocator::KongUpstream {
                    admin_url,
                    upstream,
                    target_x,
                    target_y,
                })
            }
            "external" if query.is_empty() => Ok(SplitLocator::External),
            "external" => Err(LocatorError::UnknownKey {
                kind: "external",
                key: query.to_string(),
            }),
            // Before ids were locators they were `driver:target`.
            _ if ["haproxy:", "nginx:", "kong_upstream:"]
                .iter()
                .any(|legacy| text.starts_with(legacy)) =>
            {
                Err(LocatorError::Legacy {
                    text: text.to_string(),
                })
            }
            other => Err(LocatorError::UnknownDriver {
                text: text.to_string(),
                kind: other.to_string(),
            }),
        }
    }
}

/// The decoded values of `keys`, in that order: each exactly once, none
/// empty, nothing else.
fn values(
    kind: &'static str,
    keys: &[&'static str; 4],
    query: &str,
) -> Result<[String; 4], LocatorError> {
    let mut found: [Option<String>; 4] = Default::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(slot) = keys.iter().position(|k| *k == key) else {
            return Err(LocatorError::UnknownKey {
                kind,
                key: key.to_string(),
            });
        };
        if found[slot].is_some() {
            return Err(LocatorError::Duplicate {
                key: key.to_string(),
            });
        }
        let value = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| LocatorError::Encoding {
                key: key.to_string(),
            })?;
        if value.is_empty() {
            return Err(LocatorError::Empty {
                key: key.to_string(),
            });
        }
        found[slot] = Some(value.into_owned());
    }
    let mut out: [String; 4] = Default::default();
    for (slot, (value, key)) in found.into_iter().zip(keys).enumerate() {
        out[slot] = value.ok_or(LocatorError::Missing { kind, key })?;
    }
    Ok(out)
}

/// Reads a split another resource owns. Deliberately without
/// `set_weights`: whoever holds a reader cannot move traffic.
#[derive(Debug)]
pub struct SplitReader {
    locator: SplitLocator,
    driver: super::Driver,
}

/// How a split compared with the weight a caller needs.
#[derive(Debug, thiserror::Error)]
pub enum SplitCheckError {
    #[error("the split is at {live}, and {}% on Y is needed", .wanted.percent())]
    Mismatch {
        live: Weights,
        wanted: TrafficWeight,
    },

    #[error("cannot read the split: {0}")]
    Unreadable(DriverError),

    #[error("stopped while waiting for the split to give Y {}%", .wanted.percent())]
    Cancelled {
        last: Option<Weights>,
        wanted: TrafficWeight,
    },
}

impl SplitCheckError {
    /// The split last seen, if it could be read.
    pub fn last_seen(&self) -> Option<Weights> {
        match self {
            SplitCheckError::Mismatch { live, .. } => Some(*live),
            SplitCheckError::Cancelled { last, .. } => *last,
            SplitCheckError::Unreadable(_) => None,
        }
    }
}

impl SplitReader {
    pub fn locator(&self) -> &SplitLocator {
        &self.locator
    }

    pub fn kind(&self) -> &'static str {
        self.driver.kind()
    }

    /// The split the load balancer applies now.
    pub async fn read_weights(&self) -> Result<Weights, DriverError> {
        self.driver.read_weights().await
    }

    /// Waits until Y's share is `wanted`, reading every `poll`, for at most
    /// `bound`. Returns the split seen, or how it differed at the end. An
    /// unreadable load balancer fails at once: waiting would not fix a wrong
    /// socket path, and the owner's own apply reports it too.
    pub async fn wait_for(
        &self,
        wanted: TrafficWeight,
        bound: Duration,
        poll: Duration,
        cancel: &CancellationToken,
    ) -> Result<Weights, SplitCheckError> {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let live = self
                .read_weights()
                .await
                .map_err(SplitCheckError::Unreadable)?;
            if live.y == wanted && !live.is_drained() {
                return Ok(live);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SplitCheckError::Mismatch { live, wanted });
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = cancel.cancelled() => {
                    return Err(SplitCheckError::Cancelled { last: Some(live), wanted })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn haproxy() -> SplitLocator {
        SplitLocator::Haproxy {
            runtime_api: RuntimeApiAddress::Unix("/run/haproxy/admin.sock".into()),
            backend: "kong".into(),
            server_x: "x".into(),
            server_y: "y".into(),
        }
    }

    #[test]
    fn writes_the_driver_then_percent_encoded_pairs_in_a_fixed_order() {
        assert_eq!(
            haproxy().to_string(),
            "haproxy?runtime_api=%2Frun%2Fhaproxy%2Fadmin.sock&backend=kong&server_x=x&server_y=y"
        );
        let nginx = SplitLocator::Nginx {
            upstream_file: "/etc/nginx/conf.d/kong upstream.conf".into(),
            upstream: "kong".into(),
            server_x: "10.0.0.1:8000".into(),
            server_y: "10.0.0.2:8000".into(),
        };
        assert_eq!(
            nginx.to_string(),
            "nginx?upstream_file=%2Fetc%2Fnginx%2Fconf.d%2Fkong%20upstream.conf&upstream=kong&server_x=10.0.0.1%3A8000&server_y=10.0.0.2%3A8000"
        );
        assert_eq!(SplitLocator::External.to_string(), "external");
    }

    #[test]
    fn structure_characters_inside_values_stay_values() {
        let tricky = SplitLocator::KongUpstream {
            admin_url: "http://edge:8001/admin?a=1&b=2%".into(),
            upstream: "up=stream&x".into(),
            target_x: "x:8000".into(),
            target_y: "y:8000".into(),
        };
        let text = tricky.to_string();
        assert_eq!(text.matches('&').count(), 3, "{text}");
        assert_eq!(text.matches('=').count(), 4, "{text}");
        assert_eq!(text.parse::<SplitLocator>().unwrap(), tricky);
    }

    #[test]
    fn tcp_and_relative_unix_runtime_apis_survive_the_round_trip() {
        for api in [
            RuntimeApiAddress::Tcp("127.0.0.1:9999".into()),
            RuntimeApiAddress::Unix("run/haproxy.sock".into()),
            RuntimeApiAddress::Unix("/run/haproxy.sock".into()),
        ] {
            let l = SplitLocator::Haproxy {
                runtime_api: api,
                backend: "kong".into(),
                server_x: "x".into(),
                server_y: "y".into(),
            };
            assert_eq!(l.to_string().parse::<SplitLocator>().unwrap(), l);
        }
    }

    #[test]
    fn pairs_may_come_in_any_order() {
        let parsed: SplitLocator =
            "haproxy?server_y=y&server_x=x&backend=kong&runtime_api=%2Frun%2Fhaproxy%2Fadmin.sock"
                .parse()
                .unwrap();
        assert_eq!(parsed, haproxy());
    }

    #[test]
    fn refuses_what_is_not_exactly_one_locator() {
        let err = |text: &str| text.parse::<SplitLocator>().unwrap_err().to_string();
        assert!(err("haproxy:/run/haproxy.sock").contains("earlier version of the provider"));
        assert!(err("f5?pool=kong").contains("not haproxy, nginx, kong_upstream or external"));
        assert!(
            err("haproxy?runtime_api=%2Fs&backend=kong&server_x=x").contains("lacks \"server_y\"")
        );
        assert!(
            err("haproxy?runtime_api=%2Fs&backend=kong&server_x=x&server_y=y&admin_token=t")
                .contains("\"admin_token\", which its haproxy driver does not use")
        );
        assert!(
            err("haproxy?runtime_api=%2Fs&backend=a&backend=b&server_x=x&server_y=y")
                .contains("\"backend\" more than once")
        );
        assert!(err("nginx?upstream_file=&upstream=u&server_x=a&server_y=b")
            .contains("empty \"upstream_file\""));
        assert!(
            err("nginx?upstream_file=%FF&upstream=u&server_x=a&server_y=b")
                .contains("not percent-encoded UTF-8")
        );
        assert!(err("external?weight=1").contains("does not use"));
    }

    #[test]
    fn an_external_split_cannot_be_read() {
        let err = SplitLocator::External.reader(None).unwrap_err();
        assert!(matches!(err, LocatorError::External), "{err}");
    }

    #[test]
    fn a_locator_the_driver_refuses_names_the_setting() {
        let l = SplitLocator::Haproxy {
            runtime_api: RuntimeApiAddress::Tcp("127.0.0.1:1".into()),
            backend: "kong; shutdown".into(),
            server_x: "x".into(),
            server_y: "y".into(),
        };
        let err = l.reader(None).unwrap_err().to_string();
        assert!(
            err.contains("usable haproxy driver") && err.contains("backend"),
            "{err}"
        );
    }

    fn text() -> impl Strategy<Value = String> {
        // Any non-empty UTF-8, structure characters and `%` included.
        "[a-zA-Z0-9 &=?%:/+#é~._-]{1,24}"
    }

    fn any_locator() -> impl Strategy<Value = SplitLocator> {
        let api = prop_oneof![
            text().prop_map(|t| RuntimeApiAddress::Unix(format!("/{t}").into())),
            text().prop_map(|t| RuntimeApiAddress::Unix(t.into())),
            "[a-z0-9.]{1,12}:[0-9]{1,5}".prop_map(RuntimeApiAddress::Tcp),
        ];
        prop_oneof![
            (api, text(), text(), text()).prop_map(|(runtime_api, backend, server_x, server_y)| {
                SplitLocator::Haproxy {
                    runtime_api,
                    backend,
                    server_x,
                    server_y,
                }
            }),
            (text(), text(), text(), text()).prop_map(|(file, upstream, server_x, server_y)| {
                SplitLocator::Nginx {
                    upstream_file: file.into(),
                    upstream,
                    server_x,
                    server_y,
                }
            }),
            (text(), text(), text(), text()).prop_map(
                |(admin_url, upstream, target_x, target_y)| SplitLocator::KongUpstream {
                    admin_url,
                    upstream,
                    target_x,
                    target_y,
                }
            ),
            Just(SplitLocator::External),
        ]
    }

    proptest! {
        #[test]
        fn every_locator_survives_a_round_trip(l in any_locator()) {
            let text = l.to_string();
            prop_assert_eq!(text.parse::<SplitLocator>().unwrap(), l);
        }

        #[test]
        fn the_written_form_has_only_unreserved_characters_and_structure(l in any_locator()) {
            let text = l.to_string();
            prop_assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || "-._~%?&=".contains(c)), "{}", text);
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,64}") {
            let _ = text.parse::<SplitLocator>();
        }
    }
}

/// Readers built from ids, against real load balancers.
#[cfg(test)]
mod against_load_balancers {
    use super::*;
    use crate::traffic::test_support::named_backends;
    use testbed::haproxy::Haproxy;

    fn percent(p: i64) -> TrafficWeight {
        TrafficWeight::new(p).unwrap()
    }

    const POLL: Duration = Duration::from_millis(20);

    /// The owner's driver and a reader rebuilt from its id alone.
    fn owner_and_reader(haproxy: &Haproxy) -> (HaproxyDriver, SplitReader) {
        let owner = HaproxyDriver::new(
            RuntimeApiAddress::Unix(haproxy.admin_socket()),
            "kong",
            "x",
            "y",
        )
        .unwrap();
        let id = owner.locator().to_string();
        let reader = id.parse::<SplitLocator>().unwrap().reader(None).unwrap();
        (owner, reader)
    }

    #[tokio::test]
    async fn a_reader_from_an_haproxy_id_sees_what_the_owner_set() {
        let (x, y) = named_backends().await;
        let haproxy = Haproxy::start(x, y, (100, 0)).unwrap();
        let (owner, reader) = owner_and_reader(&haproxy);
        assert_eq!(reader.read_weights().await.unwrap(), Weights::all_on_x());
        owner
            .set_weights(Weights::with_y(percent(50)))
            .await
            .unwrap();
        let cancel = CancellationToken::new();
        let seen = reader
            .wait_for(percent(50), Duration::ZERO, POLL, &cancel)
            .await
            .unwrap();
        assert_eq!(seen, Weights::with_y(percent(50)));
    }

    #[tokio::test]
    async fn waiting_sees_the_owner_move_the_split_within_the_bound() {
        let (x, y) = named_backends().await;
        let haproxy = Haproxy::start(x, y, (100, 0)).unwrap();
        let (owner, reader) = owner_and_reader(&haproxy);
        let mover = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            owner
                .set_weights(Weights::with_y(TrafficWeight::FULL))
                .await
        });
        let cancel = CancellationToken::new();
        let seen = reader
            .wait_for(TrafficWeight::FULL, Duration::from_secs(30), POLL, &cancel)
            .await
            .unwrap();
        assert_eq!(seen, Weights::with_y(TrafficWeight::FULL));
        mover.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_split_elsewhere_is_reported_as_it_is_and_cancellation_stops_the_wait() {
        let (x, y) = named_backends().await;
        let haproxy = Haproxy::start(x, y, (50, 50)).unwrap();
        let (_, reader) = owner_and_reader(&haproxy);
        let cancel = CancellationToken::new();
        let err = reader
            .wait_for(TrafficWeight::FULL, Duration::ZERO, POLL, &cancel)
            .await
            .unwrap_err();
        assert!(
            matches!(err, SplitCheckError::Mismatch { live, .. } if live == Weights::with_y(percent(50))),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "the split is at X 50% / Y 50%, and 100% on Y is needed"
        );

        cancel.cancel();
        let err = reader
            .wait_for(
                TrafficWeight::FULL,
                Duration::from_secs(3600),
                POLL,
                &cancel,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, SplitCheckError::Cancelled { .. }), "{err}");
        assert_eq!(err.last_seen(), Some(Weights::with_y(percent(50))));
    }

    #[tokio::test]
    async fn a_drained_split_is_not_all_on_x() {
        let (x, y) = named_backends().await;
        let haproxy = Haproxy::start(x, y, (0, 0)).unwrap();
        let (_, reader) = owner_and_reader(&haproxy);
        let err = reader
            .wait_for(
                TrafficWeight::ZERO,
                Duration::ZERO,
                POLL,
                &CancellationToken::new(),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("X 0% / Y 0%"), "{err}");
    }

    #[tokio::test]
    async fn a_reader_from_an_nginx_id_reads_the_owned_file_and_an_unreachable_split_fails_at_once()
    {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kong upstream.conf");
        let owner = NginxDriver::new(file.clone(), "kong", "127.0.0.1:8001", "127.0.0.1:8002")
            .unwrap()
            .with_validate_argv(vec!["true".into()])
            .unwrap()
            .with_reload_argv(vec!["true".into()])
            .unwrap();
        let locator: SplitLocator = owner.locator().to_string().parse().unwrap();
        let reader = locator.reader(None).unwrap();
        let cancel = CancellationToken::new();
        let err = reader
            .wait_for(percent(30), Duration::from_secs(3600), POLL, &cancel)
            .await
            .unwrap_err();
        assert!(matches!(err, SplitCheckError::Unreadable(_)), "{err}");

        owner
            .set_weights(Weights::with_y(percent(30)))
            .await
            .unwrap();
        assert_eq!(
            reader.read_weights().await.unwrap(),
            Weights::with_y(percent(30))
        );
    }
}
