# A blue-green upgrade from Kong 3.4.2 (cluster X) to 3.4.3 (cluster Y) on a
# shared database, with HAProxy in front of both clusters. Each apply takes
# the upgrade to `target_phase`; `terraform plan` shows the steps first:
#
#   prepared   configuration freeze recorded, database backed up
#   migrated   `kong migrations up` by Y's CLI, Y started and ready
#   serving    staging tests (first time), then `weight_y` percent of the
#              traffic on Y, 25 points at a time
#   finished   all traffic on Y, then `kong migrations finish` (no way back to X)
#   completed  X decommissioned; configuration writes may resume

variable "target_phase" {
  type        = string
  description = "Where the next apply takes the upgrade."
  default     = "prepared"
}

variable "weight_y" {
  type        = number
  description = "Percent of the traffic on Y when target_phase is serving."
  default     = 0
}

variable "kong_pg_password" {
  type        = string
  description = "Password of the kong role."
  sensitive   = true
}

resource "kong_upgrade" "gateway" {
  strategy     = "blue_green"
  to_version   = "3.4.3"
  target_phase = var.target_phase
  weight_y     = var.weight_y

  cluster_x {
    admin_url  = "http://kong-x.internal:8001"
    status_url = "http://kong-x.internal:8100"
    proxy_url  = "http://kong-x.internal:8000"
  }

  cluster_y {
    admin_url  = "http://kong-y.internal:8001"
    status_url = "http://kong-y.internal:8100"
    proxy_url  = "http://kong-y.internal:8000"
  }

  database {
    host                = "db.internal"
    password_wo         = var.kong_pg_password # never stored (Terraform >= 1.11)
    password_wo_version = 1
  }

  # The `kong` CLI of the target version runs the migrations.
  runner {
    command {
      argv = ["kubectl", "exec", "deploy/kong-y", "--", "kong"]
    }
  }

  backup {
    directory = "/var/backups/kong"
  }

  # Y must answer like X before it takes any traffic.
  staging_test {
    name            = "key-auth still authenticates"
    path            = "/orders"
    headers         = { apikey = "staging-test-key" }
    expect_status   = 200
    compare_headers = ["Content-Type"]
  }

  traffic {
    haproxy {
      runtime_api = "haproxy.internal:9999"
      backend     = "kong"
      server_x    = "kong-x"
      server_y    = "kong-y"
    }
    step_weight = 25
    interval    = "5m"
    on_failure  = "rollback"
  }

  # Steps the provider cannot do itself.
  hooks = {
    start_y        = ["kubectl", "scale", "deploy/kong-y", "--replicas=3"]
    decommission_x = ["kubectl", "scale", "deploy/kong-x", "--replicas=0"]
  }

  timeouts {
    create = "2h"
    update = "2h"
  }
}

output "upgrade_phase" {
  value = kong_upgrade.gateway.phase
}

output "next_steps" {
  value = kong_upgrade.gateway.planned_steps
}

# A load balancer the provider does not drive (`external`), e.g. a Gateway
# API HTTPRoute whose backend weights another resource sets from
# `current_weight_y` after this upgrade's apply ends. `observe` reads back
# the share the load balancer really gives Y: each apply judges the gates of
# the weight the previous apply published, once observed, then publishes the
# next step (the plan says which, e.g. "judge gates at 10% (observed), then
# shift to 50%"). `migrations finish` and retiring X wait for a later apply
# than the one publishing 100%. Apply until the plan is empty.
resource "kong_upgrade" "behind_gateway_api" {
  strategy     = "blue_green"
  to_version   = "3.4.3"
  target_phase = var.target_phase
  weight_y     = var.weight_y

  cluster_x {
    admin_url = "http://kong-x.internal:8001"
  }

  cluster_y {
    admin_url  = "http://kong-y.internal:8001"
    status_url = "http://kong-y.internal:8100"
  }

  database {
    host                = "db.internal"
    password_wo         = var.kong_pg_password
    password_wo_version = 1
  }

  runner {
    command {
      argv = ["kubectl", "exec", "-i", "deploy/kong-y", "--", "kong"]
    }
  }

  traffic {
    external {
      observe {
        url       = "http://prometheus.internal:9090/api/v1/query?query=100*sum(rate(kong_http_requests_total{service=\"kong-y\"}[1m]))/sum(rate(kong_http_requests_total[1m]))"
        json_path = "$.data.result[0].value[1]"
        tolerance = 3
        timeout   = "10m"
      }
    }
    steps {
      weight = 10
      pause  = "5m"
    }
    steps {
      weight = 50
      pause  = "5m"
    }
    gate {
      name     = "error-rate"
      interval = "30s"
      count    = 6
      prometheus {
        url   = "http://prometheus.internal:9090"
        query = "sum(rate(kong_http_requests_total{service=\"kong-y\",code=~\"5..\"}[1m])) / sum(rate(kong_http_requests_total{service=\"kong-y\"}[1m]))"
        max   = 0.01
      }
    }
  }

  backup {
    directory = "/var/backups/kong"
  }
}

# The HTTPRoute (kubernetes provider) carries the published split:
#
#   backendRefs = [
#     { name = "kong-x", port = 8000, weight = 100 - kong_upgrade.behind_gateway_api.current_weight_y },
#     { name = "kong-y", port = 8000, weight = kong_upgrade.behind_gateway_api.current_weight_y },
#   ]
