//! Acceptance: `data "kong_upgrade_path"` and `data "kong_data_planes"`.

mod support;

use support::Acceptance;
use testbed::kongsim::{KongSim, Role};

#[test]
fn upgrade_path_answers_supported_and_unsupported_jumps() {
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.apply(
            r#"
data "kong_upgrade_path" "lts" {
  from = "2.8.4"
  to   = "3.4.2"
}

data "kong_upgrade_path" "blue_green_lts" {
  from     = "2.8.4"
  to       = "3.4.2"
  strategy = "blue_green"
}

data "kong_upgrade_path" "too_far" {
  from = "2.6.0"
  to   = "3.4.2"
}
"#,
        );
        let lts = acc.values("data.kong_upgrade_path.lts");
        assert_eq!(lts["supported"], true, "{lts}");
        assert_eq!(lts["kind"], "lts");
        let bg = acc.values("data.kong_upgrade_path.blue_green_lts");
        assert_eq!(
            bg["supported"], false,
            "blue-green is not offered for LTS jumps: {bg}"
        );
        assert!(
            bg["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w.as_str().unwrap().starts_with("refused:")),
            "{bg}"
        );
        let far = acc.values("data.kong_upgrade_path.too_far");
        assert_eq!(far["supported"], false);
        assert!(
            far["hops"][0].as_str().unwrap().starts_with("2.8.x"),
            "{far}"
        );
        assert!(
            far["summary"]
                .as_str()
                .unwrap()
                .contains("go through 2.8.x"),
            "{far}"
        );

        acc.plan_expect_error(
            r#"
data "kong_upgrade_path" "bad" {
  from = "three"
  to   = "3.4.2"
}
"#,
            "Invalid Kong version",
        );
    }
}

#[test]
fn data_planes_of_a_control_plane_are_listed_with_their_versions() {
    let pg = testbed::Postgres::start().unwrap();
    // Like Kong, a control plane needs its database.
    let cp = KongSim::builder("3.6.1")
        .role(Role::ControlPlane)
        .postgres(&pg)
        .bootstrap()
        .start()
        .unwrap();
    cp.register_data_plane(
        r#"{"hostname":"dp-b","ip":"10.0.0.2","version":"3.6.0","sync_status":"normal"}"#,
    )
    .unwrap();
    cp.register_data_plane(r#"{"hostname":"dp-a","ip":"10.0.0.1","version":"3.7.0","sync_status":"kong_version_incompatible"}"#)
        .unwrap();
    let traditional = KongSim::builder("3.6.1").database_off().start().unwrap();
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.apply(&format!(
            r#"
data "kong_data_planes" "cp" {{
  admin_url = "{}"
}}
"#,
            cp.admin_url
        ));
        let v = acc.values("data.kong_data_planes.cp");
        assert_eq!(v["data_planes"].as_array().unwrap().len(), 2, "{v}");
        assert_eq!(
            v["data_planes"][0]["hostname"], "dp-a",
            "sorted by hostname"
        );
        assert_eq!(v["versions"], serde_json::json!(["3.6.0", "3.7.0"]));
        assert_eq!(v["incompatible_count"], 1);

        let out = acc.plan_expect_error(
            &format!(
                "data \"kong_data_planes\" \"not_cp\" {{\n  admin_url = \"{}\"\n}}\n",
                traditional.admin_url
            ),
            "Kong Admin API error",
        );
        assert!(
            out.stderr.contains("only available when Kong is"),
            "Kong's own 400 message:\n{out}"
        );
    }
}
