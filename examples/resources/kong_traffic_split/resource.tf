# Move 100 % of traffic to cluster Y in steps of 25 %, checking Y's error
# rate in Prometheus at every step; roll back to X if it goes above 1 %.
resource "kong_traffic_split" "canary" {
  weight_y    = 100
  step_weight = 25
  interval    = "1m"
  on_failure  = "rollback"

  haproxy {
    runtime_api = "/run/haproxy/admin.sock"
    backend     = "kong"
    server_x    = "kong_x"
    server_y    = "kong_y"
  }

  gate {
    name     = "error-rate"
    interval = "10s"
    count    = 6
    prometheus {
      url   = "http://prometheus:9090"
      query = "sum(rate(kong_http_requests_total{code=~\"5..\"}[1m])) / sum(rate(kong_http_requests_total[1m]))"
      max   = 0.01
    }
  }
}
