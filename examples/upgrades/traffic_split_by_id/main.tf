# A blue-green upgrade whose traffic is moved by a kong_traffic_split of
# its own, referred to by id. The split owns the weights (its steps, gates
# and rollback on a failing gate); the upgrade never moves traffic: at each
# phase it verifies that the split gives Y the share the phase needs, and
# stops before anything irreversible otherwise. Because the upgrade refers
# to the split's id, Terraform applies the split first in every apply, so
# one variable advances both:
#
#   terraform apply -var target_phase=prepared                  # freeze recorded, pg_dump backup
#   terraform apply -var target_phase=migrated                  # migrations up, Y started and ready
#   terraform apply -var target_phase=serving -var weight_y=10  # split → 10 %, then verified
#   terraform apply -var target_phase=serving -var weight_y=50
#   terraform apply -var target_phase=finished                  # split → 100 %, verified, migrations finish
#   terraform apply -var target_phase=completed                 # X decommissioned
#
# Going back before `finished` (a lower weight_y, or target_phase =
# migrated) moves the split down at once, without gates, and the upgrade
# then verifies it. After `finished` there is no way back but the backup.

locals {
  # Y's share each phase needs: nothing until it serves, all of it from
  # `finished` on.
  split_weight_y = lookup({ serving = var.weight_y, finished = 100, completed = 100 }, var.target_phase, 0)
}

resource "kong_traffic_split" "main" {
  weight_y    = local.split_weight_y
  step_weight = var.step_weight
  interval    = var.step_interval
  on_failure  = "rollback"

  haproxy {
    runtime_api = var.haproxy_runtime_api
    backend     = var.haproxy_backend
    server_x    = "x"
    server_y    = "y"
  }

  # Checked at every step on the way up: Y must run the version its
  # migrations were made for.
  gate {
    name     = "Y runs the target version"
    interval = var.step_interval
    count    = 1
    http {
      url            = var.y_admin_url
      json_path      = "$.version"
      expected_value = var.to_version
    }
  }
}

resource "kong_upgrade" "this" {
  strategy     = "blue_green"
  to_version   = var.to_version
  target_phase = var.target_phase
  weight_y     = var.weight_y

  # The split's id says how to read its load balancer (never a secret), so
  # the upgrade can verify the weights; the reference also makes Terraform
  # apply the split first.
  traffic_split_id = kong_traffic_split.main.id

  cluster_x {
    admin_url = var.x_admin_url
    proxy_url = var.x_proxy_url
  }

  cluster_y {
    admin_url  = var.y_admin_url
    status_url = var.y_status_url
    proxy_url  = var.y_proxy_url
  }

  database {
    host     = var.pg_host
    port     = var.pg_port
    user     = var.pg_user
    password = nonsensitive(var.pg_password) # see the note in variables.tf
    database = var.pg_database
  }

  runner {
    command {
      argv = var.kong_cli
    }
  }

  backup {
    directory = var.backup_dir
  }

  # Sent to both X and Y when Y takes its first traffic: the answers must agree.
  staging_test {
    name          = "orders API answers"
    path          = "/orders"
    expect_status = 200
  }

  hooks = { for name, argv in {
    start_y        = var.start_y_command
    decommission_x = var.decommission_x_command
  } : name => argv if argv != null }

  timeouts {
    create = "30m"
    update = "2h"
  }
}

output "phase" {
  value = kong_upgrade.this.phase
}

output "weight_y" {
  description = "Y's share, as the upgrade last verified it on the split's load balancer."
  value       = kong_upgrade.this.current_weight_y
}

output "backup_location" {
  description = "Restore this with pg_restore to go back to X after `migrations finish`."
  value       = kong_upgrade.this.backup_location
}
