//! Gates against a real Prometheus behind a real nginx that requires
//! credentials (and refuses without them): bearer token and basic auth over
//! TLS with a private CA, an API-key header over plain HTTP; plus a server
//! that accepts and never answers, for the timeout.

use super::*;
use crate::migrations::Secret;
use std::collections::BTreeMap;
use testbed::nginx::Nginx;
use testbed::prometheus::Prometheus;

const TOKEN: &str = "gate-token-5ecret-771";
const BASIC_USER: &str = "grafana-123";
const BASIC_PASSWORD: &str = "basic-5ecret-pa55";
const API_KEY: &str = "api-key-5ecret-42";

/// A private CA and a certificate for 127.0.0.1 signed by it: (CA PEM,
/// server certificate PEM, server key PEM).
fn private_ca_and_server_cert() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// Prometheus behind nginx: an HTTPS server that wants the bearer token or
/// the basic-auth pair, and a plain one that wants the API key header.
struct Guarded {
    _prometheus: Prometheus,
    _nginx: Nginx,
    _dir: tempfile::TempDir,
    tls_url: String,
    key_url: String,
    ca_pem: String,
}

fn guarded_prometheus() -> Guarded {
    use base64::Engine as _;
    let prometheus = Prometheus::start(&[], Duration::from_secs(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, cert_pem, key_pem) = private_ca_and_server_cert();
    std::fs::write(dir.path().join("server.pem"), cert_pem).unwrap();
    std::fs::write(dir.path().join("server.key"), key_pem).unwrap();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"));
    let (tls_port, key_port) = (testbed::free_port(), testbed::free_port());
    let d = dir.path().display();
    let upstream = format!(
        "upstream prometheus {{ server 127.0.0.1:{prom}; }}
map $http_authorization $gate_authorized {{ \"Bearer {TOKEN}\" 1; \"Basic {basic}\" 1; default 0; }}
map $http_x_api_key $gate_key_ok {{ \"{API_KEY}\" 1; default 0; }}
server {{
    listen 127.0.0.1:{tls_port} ssl;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    location / {{
        if ($gate_authorized = 0) {{ return 401; }}
        proxy_pass http://prometheus;
    }}
}}
server {{
    listen 127.0.0.1:{key_port};
    location / {{
        if ($gate_key_ok = 0) {{ return 401; }}
        proxy_pass http://prometheus;
    }}
}}
",
        prom = prometheus.port
    );
    let nginx = Nginx::start("prometheus", &upstream).unwrap();
    Guarded {
        _prometheus: prometheus,
        _nginx: nginx,
        _dir: dir,
        tls_url: format!("https://127.0.0.1:{tls_port}"),
        key_url: format!("http://127.0.0.1:{key_port}"),
        ca_pem,
    }
}

fn prometheus_check(url: &str, auth: GateAuth) -> GateCheck {
    GateCheck::Prometheus(PrometheusCheck {
        url: url.to_owned(),
        query: "vector(1)".into(),
        min: Some(1.0),
        max: Some(1.0),
        auth,
    })
}

fn secrets_absent(m: &Measurement) {
    let text = format!("{} {:?}", m.detail, m.value);
    for secret in [TOKEN, BASIC_PASSWORD, API_KEY] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
}

#[tokio::test]
async fn prometheus_and_http_gates_authenticate_through_a_guarding_proxy() {
    let g = guarded_prometheus();
    let client = http_client().unwrap();
    let timeout = Duration::from_secs(10);
    let with_ca = |auth: GateAuth| GateAuth {
        ca_cert_pem: Some(g.ca_pem.clone()),
        ..auth
    };
    let bearer = GateAuth {
        bearer_token: Some(Secret::new(TOKEN)),
        ..GateAuth::default()
    };
    let basic = GateAuth {
        basic_auth: Some(BasicAuth {
            username: BASIC_USER.into(),
            password: Secret::new(BASIC_PASSWORD),
        }),
        ..GateAuth::default()
    };
    let cases: Vec<(&str, GateAuth, Outcome, &str)> = vec![
        (
            "bearer token, private CA",
            with_ca(bearer.clone()),
            Outcome::Pass,
            "",
        ),
        (
            "basic auth, private CA",
            with_ca(basic.clone()),
            Outcome::Pass,
            "",
        ),
        (
            "no credentials",
            with_ca(GateAuth::default()),
            Outcome::Error,
            "answered 401 Unauthorized (credentials missing or refused",
        ),
        (
            "a wrong token",
            with_ca(GateAuth {
                bearer_token: Some(Secret::new("not-the-token")),
                ..GateAuth::default()
            }),
            Outcome::Error,
            "401",
        ),
        (
            "the CA not trusted",
            bearer.clone(),
            Outcome::Error,
            "certificate",
        ),
        (
            "verification skipped",
            GateAuth {
                insecure_skip_verify: true,
                ..bearer.clone()
            },
            Outcome::Pass,
            "",
        ),
    ];
    for (case, auth, expected, detail) in cases {
        assert_eq!(auth.validate("prometheus"), Ok(()), "{case}");
        let m = prometheus_check(&g.tls_url, auth)
            .measure(&client, timeout)
            .await;
        assert_eq!(m.outcome, expected, "{case}: {}", m.detail);
        assert!(m.detail.contains(detail), "{case}: {}", m.detail);
        secrets_absent(&m);
    }

    let http = |headers: BTreeMap<String, Secret>| {
        GateCheck::Http(HttpCheck {
            url: format!("{}/api/v1/query?query=vector(1)", g.key_url),
            expected_status: 200,
            json_path: Some(JsonPath::parse("$.status").unwrap()),
            expected_value: Some(serde_json::json!("success")),
            auth: GateAuth {
                headers,
                ..GateAuth::default()
            },
        })
    };
    let key = BTreeMap::from([("X-Api-Key".to_owned(), Secret::new(API_KEY))]);
    let passed = http(key.clone()).measure(&client, timeout).await;
    assert_eq!(passed.outcome, Outcome::Pass, "{}", passed.detail);
    let refused = http(BTreeMap::new()).measure(&client, timeout).await;
    assert_eq!(
        (refused.outcome, refused.value.as_deref()),
        (Outcome::Fail, Some("401")),
        "{}",
        refused.detail
    );
    let through_prometheus = prometheus_check(
        &g.key_url,
        GateAuth {
            headers: key,
            ..GateAuth::default()
        },
    )
    .measure(&client, timeout)
    .await;
    assert_eq!(through_prometheus.outcome, Outcome::Pass);
    for m in [passed, refused, through_prometheus] {
        secrets_absent(&m);
    }
}

#[test]
fn conflicting_or_malformed_credentials_are_refused_on_the_attribute() {
    let attribute = |auth: GateAuth| auth.validate("http").unwrap_err().attribute;
    let token = Some(Secret::new(TOKEN));
    let basic = Some(BasicAuth {
        username: "u".into(),
        password: Secret::new("p"),
    });
    assert_eq!(
        attribute(GateAuth {
            bearer_token: token.clone(),
            basic_auth: basic,
            ..GateAuth::default()
        }),
        "http.basic_auth"
    );
    assert_eq!(
        attribute(GateAuth {
            headers: BTreeMap::from([("Authorization".into(), Secret::new("x"))]),
            bearer_token: token,
            ..GateAuth::default()
        }),
        "http.bearer_token"
    );
    assert_eq!(
        attribute(GateAuth {
            headers: BTreeMap::from([("Authorization".into(), Secret::new("x"))]),
            bearer_token: Some(Secret::new(TOKEN)),
            bearer_token_write_only: true,
            ..GateAuth::default()
        }),
        "http.bearer_token_wo",
        "a write-only token is named as written"
    );
    assert_eq!(
        attribute(GateAuth {
            headers: BTreeMap::from([("bad name".into(), Secret::new("x"))]),
            ..GateAuth::default()
        }),
        "http.headers"
    );
    assert_eq!(
        attribute(GateAuth {
            headers: BTreeMap::from([("X-Key".into(), Secret::new("a\nb"))]),
            ..GateAuth::default()
        }),
        "http.headers"
    );
    assert_eq!(
        attribute(GateAuth {
            ca_cert_pem: Some("garbage".into()),
            ..GateAuth::default()
        }),
        "http.ca_cert_pem"
    );
    let err = GateAuth {
        headers: BTreeMap::from([("X-Key".into(), Secret::new(API_KEY))]),
        bearer_token: Some(Secret::new(TOKEN)),
        ..GateAuth::default()
    };
    assert!(!format!("{err:?}").contains(API_KEY) && !format!("{err:?}").contains(TOKEN));
}

/// A server that accepts connections and never answers: the measurement
/// says "timed out after 1s" and comes back within the timeout + 0.5 s.
#[tokio::test]
async fn a_silent_server_times_out_on_time_and_says_so() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let client = http_client().unwrap();
    let timeout = Duration::from_secs(1);
    let http = GateCheck::Http(HttpCheck {
        url: url.clone(),
        expected_status: 200,
        json_path: None,
        expected_value: None,
        auth: GateAuth::default(),
    });
    let command = GateCheck::Command(CommandCheck {
        argv: vec!["sleep".into(), "30".into()],
    });
    for check in [prometheus_check(&url, GateAuth::default()), http, command] {
        let started = std::time::Instant::now();
        let m = check.measure(&client, timeout).await;
        let took = started.elapsed();
        assert_eq!(m.outcome, Outcome::Error, "{}", m.detail);
        assert!(m.detail.contains("timed out after 1s"), "{}", m.detail);
        assert!(
            took < timeout + Duration::from_millis(500),
            "{} took {took:?}",
            check.kind()
        );
    }
    held.abort();
}
