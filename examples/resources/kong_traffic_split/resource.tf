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

# A load balancer the provider does not drive (`external`): the split is
# published as `weight_x` / `current_weight_y`, and another resource applies
# it after this one's apply ends, e.g. a Gateway API HTTPRoute through the
# kubernetes provider:
#
#   backendRefs = [
#     { name = "kong-x", port = 8000, weight = kong_traffic_split.gateway.weight_x },
#     { name = "kong-y", port = 8000, weight = kong_traffic_split.gateway.current_weight_y },
#   ]
#
# `observe` reads back the share the load balancer really gives Y. Each apply
# makes one move: it judges the gates of the weight the previous apply
# published, once `observe` reports it (± `tolerance`), then publishes the
# next step; the plan's `next_move` says which ("judge gates at 10%
# (observed), then shift to 50%"). Apply until the plan is empty.
variable "metrics_token" {
  type      = string
  sensitive = true
}

resource "kong_traffic_split" "gateway" {
  weight_y = 100

  steps {
    weight = 10
    pause  = "5m"
  }
  steps {
    weight = 50
    pause  = "5m"
  }

  external {
    observe {
      # Any endpoint answering JSON; here a Prometheus instant query for Y's
      # share of requests over the last minute, in percent.
      url       = "http://prometheus:9090/api/v1/query?query=100*sum(rate(kong_http_requests_total{service=\"kong-y\"}[1m]))/sum(rate(kong_http_requests_total[1m]))"
      json_path = "$.data.result[0].value[1]"
      headers   = { Authorization = "Bearer ${var.metrics_token}" }
      tolerance = 3
      timeout   = "10m"
      interval  = "15s"
    }
  }

  # A Prometheus behind an authenticating proxy (or Grafana Cloud): the
  # token is write-only, read at every plan and apply and never stored in
  # plan or state (Terraform >= 1.11; older cores use `bearer_token`).
  gate {
    name     = "error-rate"
    interval = "30s"
    count    = 6
    prometheus {
      url             = "https://prometheus.example.com"
      query           = "sum(rate(kong_http_requests_total{code=~\"5..\"}[1m])) / sum(rate(kong_http_requests_total[1m]))"
      max             = 0.01
      bearer_token_wo = var.metrics_token
    }
  }
}
