//! `tracing` events written to stderr as go-hclog JSON lines, which
//! go-plugin parses and Terraform shows under `TF_LOG` / `TF_LOG_PROVIDER` /
//! `TF_LOG_PATH`. Nothing is ever written to stdout except the handshake.

use crate::provider::ProviderName;
use std::io::Write;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// The level Terraform asked for, from `TF_LOG_PROVIDER` or `TF_LOG`.
/// Unset means warnings and errors only.
pub fn level_from_env() -> Option<Level> {
    let raw = std::env::var("TF_LOG_PROVIDER")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var("TF_LOG").ok().filter(|v| !v.is_empty()));
    match raw.map(|v| v.to_ascii_uppercase()).as_deref() {
        None => Some(Level::WARN),
        Some("OFF") => None,
        Some("TRACE") | Some("JSON") => Some(Level::TRACE),
        Some("DEBUG") => Some(Level::DEBUG),
        Some("INFO") => Some(Level::INFO),
        Some("WARN") => Some(Level::WARN),
        Some("ERROR") => Some(Level::ERROR),
        // Terraform treats any other value as TRACE.
        Some(_) => Some(Level::TRACE),
    }
}

pub struct HclogLayer {
    max: Option<Level>,
    module: &'static str,
    /// The provider crate's target prefix (see `ProviderName::log_target`).
    own_target: &'static str,
}

impl HclogLayer {
    pub fn new(name: ProviderName, max: Option<Level>) -> Self {
        HclogLayer {
            max,
            module: name.module,
            own_target: name.log_target,
        }
    }
}

#[derive(Default)]
struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, serde_json::Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, serde_json::Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, serde_json::Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, serde_json::Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, serde_json::Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.insert(field, serde_json::Value::from(format!("{value:?}")));
    }
}

impl JsonFields {
    fn insert(&mut self, field: &Field, value: serde_json::Value) {
        let key = if field.name() == "message" {
            "@message"
        } else {
            field.name()
        };
        self.0.insert(key.to_string(), value);
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// One hclog JSON line for an event.
pub fn format_line(
    module: &str,
    level: &Level,
    target: &str,
    fields: serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut obj = fields;
    obj.insert("@level".into(), level_name(level).into());
    obj.insert("@module".into(), module.into());
    // Go's hclog JSON layout: 2006-01-02T15:04:05.000000Z07:00
    obj.insert(
        "@timestamp".into(),
        chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string()
            .into(),
    );
    obj.entry("@message")
        .or_insert_with(|| serde_json::Value::from(""));
    obj.insert("target".into(), target.into());
    serde_json::Value::Object(obj).to_string()
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        let Some(max) = self.max else { return false };
        // Library internals (h2 frames, hyper, rustls) drown the provider's own
        // lines; they show only at TRACE, and their warnings always.
        let ours = metadata.target().starts_with(self.own_target)
            || metadata.target().starts_with("tfplug");
        let max = if ours || max == Level::TRACE {
            max
        } else {
            max.min(Level::WARN)
        };
        *metadata.level() <= max
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let line = format_line(self.module, meta.level(), meta.target(), fields.0);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

/// Installs the hclog layer as the global subscriber, and a panic hook that
/// logs the panic (without a backtrace) instead of printing it raw.
pub fn init(name: ProviderName) {
    let max = level_from_env();
    let subscriber = tracing_subscriber::registry().with(HclogLayer::new(name, max));
    let _ = tracing::subscriber::set_global_default(subscriber);
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        tracing::error!(location = %location, "provider panicked: {payload}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_hclog_keys_and_go_timestamp_layout() {
        let mut fields = serde_json::Map::new();
        fields.insert("@message".into(), "hello".into());
        fields.insert("resource".into(), "demo_thing".into());
        let line = format_line("demo", &Level::DEBUG, "t", fields);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["@level"], "debug");
        assert_eq!(v["@message"], "hello");
        assert_eq!(v["@module"], "demo");
        assert_eq!(v["resource"], "demo_thing");
        let ts = v["@timestamp"].as_str().unwrap();
        // e.g. 2026-11-24T23:59:01.123456Z
        assert_eq!(ts.len(), 27, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.');
    }
}
