use super::*;

fn fault(check: Check, v: Value) -> Option<String> {
    let mut d = Diagnostics::new();
    check.check(&v, &AttrPath::root("a"), &mut d);
    let first = d.iter().next().map(|d| d.detail.clone());
    first
}

#[test]
fn whole_numbers_refuse_fractions_and_out_of_range() {
    let c = || Check::WholeNumber { min: 0, max: 100 };
    assert_eq!(fault(c(), Value::Number(50.0)), None);
    assert!(fault(c(), Value::Number(0.5))
        .unwrap()
        .contains("whole number"));
    assert!(fault(c(), Value::Number(1e300))
        .unwrap()
        .contains("from 0 to 100"));
    assert!(fault(c(), Value::Number(-1.0)).is_some());
}

#[test]
fn urls_need_http_a_host_and_no_credentials() {
    assert_eq!(
        fault(Check::HttpUrl, "https://gateway.example:8444/".into()),
        None
    );
    assert_eq!(fault(Check::HttpUrl, "http://127.0.0.1:8001".into()), None);
    for bad in [
        "javascript:alert(1)",
        "ftp://h/",
        "http://",
        "not a url",
        "",
    ] {
        assert!(fault(Check::HttpUrl, bad.into()).is_some(), "{bad}");
    }
    let detail = fault(Check::HttpUrl, "http://admin:hunter2@h/".into()).unwrap();
    assert!(
        !detail.contains("hunter2"),
        "the password is not echoed: {detail}"
    );
}

#[test]
fn urls_in_messages_never_show_userinfo() {
    for url in [
        "http://admin:s3cret@gw.example:8001",
        "https://s3cret@gw.example:8001/",
        "http://admin:s3cret@[bad host/",
    ] {
        assert!(http_url(url).is_err(), "{url}");
        assert!(!url_for_messages(url).contains("s3cret"), "{url}");
    }
    for url in [
        "http://gw.example:8001/a@b",
        "https://gw.example/?q=a@b",
        "not a url",
    ] {
        assert_eq!(url_for_messages(url), url);
    }
    assert_eq!(http_url("http://gw.example:8001/a@b"), Ok(()));
}

#[test]
fn durations_must_parse_and_be_positive() {
    assert_eq!(fault(Check::Duration, "1m30s".into()), None);
    for bad in ["", "-5s", "0", "soon", "5"] {
        assert!(fault(Check::Duration, bad.into()).is_some(), "{bad:?}");
    }
}

#[test]
fn pem_needs_a_decodable_block_of_the_right_kind() {
    let cert =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUV0ZNQQ==\n-----END CERTIFICATE-----\n";
    assert_eq!(fault(Check::Pem(PemKind::Certificate), cert.into()), None);
    assert!(fault(Check::Pem(PemKind::PrivateKey), cert.into()).is_some());
    assert!(fault(Check::Pem(PemKind::Certificate), "garbage".into()).is_some());
    let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(fault(Check::Pem(PemKind::Certificate), broken.into()).is_some());
}

#[test]
fn header_faults_point_at_the_header_key() {
    let headers = Value::Map(
        [
            ("X-Team".to_string(), Value::from("edge")),
            ("Bad Name".to_string(), Value::from("v")),
            ("X-Inject".to_string(), Value::from("a\r\nHost: evil")),
        ]
        .into_iter()
        .collect(),
    );
    let mut d = Diagnostics::new();
    Check::HttpHeaders.check(&headers, &AttrPath::root("headers"), &mut d);
    let paths: Vec<String> = d
        .iter()
        .map(|d| d.path.clone().unwrap().to_string())
        .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths.iter().any(|p| p.contains("Bad Name")));
    assert!(paths.iter().any(|p| p.contains("X-Inject")));
    assert!(
        d.iter().all(|d| !d.detail.contains("evil")),
        "values are not echoed"
    );
}

#[test]
fn one_of_and_range() {
    let c = Check::OneOf(vec!["a".into(), "b".into()]);
    assert_eq!(fault(c.clone(), "a".into()), None);
    assert!(fault(c, "c".into()).is_some());
    let r = Check::Range { min: 0.0, max: 1.0 };
    assert_eq!(fault(r.clone(), Value::Number(0.5)), None);
    assert!(fault(r, Value::Number(1.5)).is_some());
}

#[test]
fn constraints_wait_for_unknowns_and_point_at_the_conflict() {
    let c = Constraint::Conflicting(vec!["a".into(), "b".into()]);
    let judge = |v: Value| {
        let mut d = Diagnostics::new();
        c.check(&v, &AttrPath::root("blk"), &mut d);
        d.iter()
            .map(|d| d.path.clone().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(judge(Value::object([("a", "1".into()), ("b", Value::Unknown)])).is_empty());
    assert!(judge(Value::object([("a", "1".into()), ("b", Value::Null)])).is_empty());
    assert_eq!(
        judge(Value::object([("a", "1".into()), ("b", "2".into())])),
        vec!["blk.b"]
    );
}

#[test]
fn a_check_on_a_list_judges_each_element_on_its_index() {
    let mut d = Diagnostics::new();
    let urls = Value::List(vec!["http://a:1/".into(), "ftp://b/".into()]);
    Check::HttpUrl.check(&urls, &AttrPath::root("urls"), &mut d);
    let paths: Vec<String> = d
        .iter()
        .map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default())
        .collect();
    assert_eq!(paths, vec!["urls[1]".to_string()]);
}

#[test]
fn pauses_may_be_zero_but_never_garbage_or_overflowing() {
    assert_eq!(fault(Check::DurationOrZero, "0s".into()), None);
    for bad in ["-1s", "", "99999999999999999999999h"] {
        assert!(
            fault(Check::DurationOrZero, bad.into()).is_some(),
            "{bad:?}"
        );
    }
    assert!(fault(Check::Duration, "99999999999999999999999h".into()).is_some());
}
