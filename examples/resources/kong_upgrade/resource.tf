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
