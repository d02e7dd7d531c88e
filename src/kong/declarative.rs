//! The declarative configuration a DB-less node (or data plane) is serving,
//! from `GET /config` (`kong/api/routes/config.lua`): Kong exports its
//! in-memory entities as YAML and answers `{"config": "<yaml>"}`. A node
//! with a database refuses with 400 "this endpoint is only available when
//! Kong is configured to not use a database".

use super::client::{KongClient, KongError};
use serde_json::Value as Json;

impl KongClient {
    /// The YAML text of the configuration the node serves right now.
    pub async fn declarative_config(&self) -> Result<String, KongError> {
        let body = self.get_json("/config").await?;
        let url = self
            .base_url()
            .join("config")
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{}config", self.base_url()));
        parse_declarative_config(&url, &body)
    }
}

/// Kong always exports at least `_format_version`, so an empty `config` is
/// as wrong as a missing one: neither can be restored.
pub fn parse_declarative_config(url: &str, body: &Json) -> Result<String, KongError> {
    match body.get("config").and_then(Json::as_str) {
        Some(text) if !text.trim().is_empty() => Ok(text.to_string()),
        Some(_) => Err(KongError::NotKong {
            url: url.to_string(),
            reason: "`GET /config` answered an empty \"config\"".into(),
        }),
        None => Err(KongError::NotKong {
            url: url.to_string(),
            reason: "`GET /config` has no \"config\" string".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kong::AdminSettings;
    use serde_json::json;
    use testbed::kongsim::KongSim;

    #[test]
    fn reads_the_yaml_text_kong_answers() {
        let yaml = "_format_version: \"3.0\"\n_transform: false\nservices:\n- name: orders\n";
        assert_eq!(
            parse_declarative_config("u", &json!({ "config": yaml })).unwrap(),
            yaml
        );
        for wrong in [json!({}), json!({"config": 3}), json!({"config": " \n"})] {
            assert!(
                matches!(
                    parse_declarative_config("u", &wrong),
                    Err(KongError::NotKong { .. })
                ),
                "{wrong}"
            );
        }
    }

    fn client(kong: &KongSim) -> KongClient {
        KongClient::new(&kong.admin_url, &AdminSettings::default()).unwrap()
    }

    #[tokio::test]
    async fn a_dbless_node_serves_the_configuration_it_loaded() {
        let kong = KongSim::builder("3.6.1").database_off().start().unwrap();
        let served = client(&kong).declarative_config().await.unwrap();
        assert!(served.contains("_format_version"), "{served}");

        let pushed = "_format_version: \"3.0\"\nservices:\n- name: billing\n  url: http://billing.internal\n";
        kong.push_config(pushed).unwrap();
        assert_eq!(client(&kong).declarative_config().await.unwrap(), pushed);
    }

    #[tokio::test]
    async fn a_node_with_a_database_refuses_with_kongs_message() {
        let pg = testbed::Postgres::start().unwrap();
        let kong = KongSim::builder("3.6.1")
            .postgres(&pg)
            .bootstrap()
            .start()
            .unwrap();
        let err = client(&kong).declarative_config().await.unwrap_err();
        assert!(
            matches!(&err, KongError::Http { status: 400, message, .. }
                if message == "this endpoint is only available when Kong is configured to not use a database"),
            "{err}"
        );
    }
}
