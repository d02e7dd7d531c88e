//! Is cluster Y ready to take traffic? Every node answers `/status/ready`
//! (Kong ≥ 3.3; `/status` before) and reports the target version.

use crate::kong::{AdminSettings, KongClient, KongError};
use crate::version::KongVersion;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ReadinessError {
    #[error("{node} runs Kong {actual}, expected {expected}")]
    WrongVersion {
        node: String,
        actual: String,
        expected: String,
    },
    #[error("{node} is not ready: {reason}")]
    NotReady { node: String, reason: String },
    #[error(transparent)]
    Kong(#[from] KongError),
    #[error("cancelled while waiting for cluster Y to become ready")]
    Cancelled,
}

/// One node of cluster Y: its Admin API, and its Status API when it has one.
#[derive(Clone, Debug)]
pub struct NodeEndpoints {
    pub admin_url: String,
    pub status_url: Option<String>,
}

/// Checks once that a node is ready and runs `expected`.
pub async fn check_node(
    node: &NodeEndpoints,
    settings: &AdminSettings,
    expected: &KongVersion,
) -> Result<(), ReadinessError> {
    let admin = KongClient::new(&node.admin_url, settings)?;
    let info = admin.node_info().await?;
    if &info.version != expected {
        return Err(ReadinessError::WrongVersion {
            node: node.admin_url.clone(),
            actual: info.version.to_string(),
            expected: expected.to_string(),
        });
    }
    if let Some(false) = info.database_reachable {
        return Err(ReadinessError::NotReady {
            node: node.admin_url.clone(),
            reason: "its database is unreachable".into(),
        });
    }
    let Some(status_url) = &node.status_url else {
        return Ok(());
    };
    if expected.major() < 3 || (expected.major() == 3 && expected.minor() < 3) {
        return Ok(());
    }
    let status = KongClient::new(status_url, settings)?;
    match status.get_json("/status/ready").await {
        Ok(_) => Ok(()),
        Err(KongError::Http {
            status: 503,
            message,
            ..
        }) => Err(ReadinessError::NotReady {
            node: status_url.clone(),
            reason: message,
        }),
        Err(e) => Err(e.into()),
    }
}

/// Polls every node until all are ready, or until `timeout`.
pub async fn wait_until_ready(
    nodes: &[NodeEndpoints],
    settings: &AdminSettings,
    expected: &KongVersion,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), ReadinessError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut last_error = None;
        for node in nodes {
            if let Err(e) = check_node(node, settings, expected).await {
                last_error = Some(e);
                break;
            }
        }
        let Some(err) = last_error else { return Ok(()) };
        if tokio::time::Instant::now() >= deadline {
            return Err(err);
        }
        tracing::debug!(error = %err, "cluster Y not ready yet");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = cancel.cancelled() => return Err(ReadinessError::Cancelled),
        }
    }
}
