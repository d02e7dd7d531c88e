//! Prometheus metrics named as Kong 3.x's prometheus plugin names them
//! (`kong_http_requests_total`, `kong_request_latency_ms`, ...), bucket
//! bounds zero-padded the way Kong's exporter prints them (`le="00005.0"`).
//! Counters are atomics or short critical sections: the proxy path never
//! waits on I/O to record a request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Kong's default latency buckets, in milliseconds.
const BUCKETS_MS: [u64; 20] = [
    1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 2000, 5000, 10000, 30000, 60000,
];

pub const SERVICE_LABEL: &str = "echo";
pub const ROUTE_LABEL: &str = "echo";

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl Histogram {
    fn observe(&self, ms: u64) {
        for (bound, bucket) in BUCKETS_MS.iter().zip(&self.buckets) {
            if ms <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, bucket) in BUCKETS_MS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{:07.1}\"}} {}",
                *bound as f64,
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum{{{labels}}} {}",
            self.sum_ms.load(Ordering::Relaxed)
        );
    }
}

/// Where a response came from, Kong's `source` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The upstream answered.
    Service,
    /// Kong generated the response itself.
    Kong,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Service => "service",
            Source::Kong => "kong",
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(u16, Source), u64>>,
    request_latency: Histogram,
    upstream_latency: Histogram,
    kong_latency: Histogram,
    ingress_bytes: AtomicU64,
    egress_bytes: AtomicU64,
    /// Every HTTP request on any listener, like nginx's counters.
    pub total_requests: AtomicU64,
    pub active: AtomicI64,
}

pub struct ProxiedRequest {
    pub status: u16,
    pub source: Source,
    pub request_ms: u64,
    pub upstream_ms: u64,
    pub kong_ms: u64,
    pub ingress_bytes: u64,
    pub egress_bytes: u64,
}

impl Metrics {
    pub fn record_proxied(&self, r: &ProxiedRequest) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((r.status, r.source)).or_insert(0) += 1;
        }
        self.request_latency.observe(r.request_ms);
        self.upstream_latency.observe(r.upstream_ms);
        self.kong_latency.observe(r.kong_ms);
        self.ingress_bytes
            .fetch_add(r.ingress_bytes, Ordering::Relaxed);
        self.egress_bytes
            .fetch_add(r.egress_bytes, Ordering::Relaxed);
    }

    pub fn proxied_total(&self) -> u64 {
        self.requests.lock().map(|r| r.values().sum()).unwrap_or(0)
    }

    /// The exposition text of `GET /metrics`.
    pub fn render(
        &self,
        node_id: &str,
        version: &str,
        datastore_reachable: Option<bool>,
    ) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let route_labels =
            format!("service=\"{SERVICE_LABEL}\",route=\"{ROUTE_LABEL}\",workspace=\"default\"");

        out.push_str(
            "# HELP kong_bandwidth_bytes Total bandwidth (ingress/egress) throughput in bytes\n",
        );
        out.push_str("# TYPE kong_bandwidth_bytes counter\n");
        for (direction, bytes) in [
            ("egress", &self.egress_bytes),
            ("ingress", &self.ingress_bytes),
        ] {
            let _ = writeln!(
                out,
                "kong_bandwidth_bytes{{{route_labels},direction=\"{direction}\",consumer=\"\"}} {}",
                bytes.load(Ordering::Relaxed)
            );
        }
        if let Some(reachable) = datastore_reachable {
            out.push_str(
                "# HELP kong_datastore_reachable Datastore reachable from Kong, 0 is unreachable\n",
            );
            out.push_str("# TYPE kong_datastore_reachable gauge\n");
            let _ = writeln!(out, "kong_datastore_reachable {}", u8::from(reachable));
        }
        out.push_str("# HELP kong_http_requests_total HTTP status codes per consumer/service/route in Kong\n");
        out.push_str("# TYPE kong_http_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((code, source), n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "kong_http_requests_total{{service=\"{SERVICE_LABEL}\",route=\"{ROUTE_LABEL}\",code=\"{code}\",source=\"{}\",workspace=\"default\",consumer=\"\"}} {n}",
                    source.label()
                );
            }
        }
        out.push_str("# HELP kong_kong_latency_ms Latency added by Kong and enabled plugins for each service/route in Kong\n");
        out.push_str("# TYPE kong_kong_latency_ms histogram\n");
        self.kong_latency
            .render(&mut out, "kong_kong_latency_ms", &route_labels);
        out.push_str("# HELP kong_nginx_connections_total Number of connections by subsystem\n");
        out.push_str("# TYPE kong_nginx_connections_total gauge\n");
        let total = self.total_requests.load(Ordering::Relaxed);
        let active = self.active.load(Ordering::Relaxed).max(0);
        for (state, value) in [
            ("accepted", total),
            ("active", active as u64),
            ("handled", total),
            ("reading", 0),
            ("total", total),
            ("waiting", 0),
            ("writing", active as u64),
        ] {
            let _ = writeln!(
                out,
                "kong_nginx_connections_total{{node_id=\"{node_id}\",subsystem=\"http\",state=\"{state}\"}} {value}"
            );
        }
        out.push_str("# HELP kong_nginx_requests_total Number of requests total\n");
        out.push_str("# TYPE kong_nginx_requests_total gauge\n");
        let _ = writeln!(
            out,
            "kong_nginx_requests_total{{node_id=\"{node_id}\",subsystem=\"http\"}} {total}"
        );
        out.push_str("# HELP kong_node_info Kong Node metadata information\n");
        out.push_str("# TYPE kong_node_info gauge\n");
        let _ = writeln!(
            out,
            "kong_node_info{{node_id=\"{node_id}\",version=\"{version}\"}} 1"
        );
        out.push_str("# HELP kong_request_latency_ms Total latency incurred during requests for each service/route in Kong\n");
        out.push_str("# TYPE kong_request_latency_ms histogram\n");
        self.request_latency
            .render(&mut out, "kong_request_latency_ms", &route_labels);
        out.push_str("# HELP kong_upstream_latency_ms Latency added by upstream response for each service/route in Kong\n");
        out.push_str("# TYPE kong_upstream_latency_ms histogram\n");
        self.upstream_latency
            .render(&mut out, "kong_upstream_latency_ms", &route_labels);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_with_kong_style_bounds() {
        let m = Metrics::default();
        for ms in [0, 3, 250] {
            m.record_proxied(&ProxiedRequest {
                status: 200,
                source: Source::Service,
                request_ms: ms,
                upstream_ms: ms,
                kong_ms: 0,
                ingress_bytes: 0,
                egress_bytes: 10,
            });
        }
        let text = m.render("n1", "3.6.1", None);
        assert!(text.contains("kong_request_latency_ms_bucket{service=\"echo\",route=\"echo\",workspace=\"default\",le=\"00001.0\"} 1"));
        assert!(text.contains("le=\"00005.0\"} 2"));
        assert!(text.contains("le=\"00500.0\"} 3"));
        assert!(text.contains("le=\"60000.0\"} 3"));
        assert!(text.contains("kong_request_latency_ms_count{service=\"echo\",route=\"echo\",workspace=\"default\"} 3"));
        assert!(text.contains("kong_request_latency_ms_sum{service=\"echo\",route=\"echo\",workspace=\"default\"} 253"));
        assert!(text.contains(
            "kong_http_requests_total{service=\"echo\",route=\"echo\",code=\"200\",source=\"service\",workspace=\"default\",consumer=\"\"} 3"
        ));
        assert!(text.contains("kong_node_info{node_id=\"n1\",version=\"3.6.1\"} 1"));
    }
}
