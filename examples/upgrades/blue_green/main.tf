# A blue-green upgrade: cluster Y runs the new version on X's own database.
# `kong migrations up` leaves the database usable by both, traffic moves to Y
# step by step, and `kong migrations finish` runs only once Y has all of it:
#
#   terraform apply -var target_phase=prepared                # freeze recorded, pg_dump backup
#   terraform apply -var target_phase=migrated                # migrations up, Y started and ready
#   terraform apply -var target_phase=serving -var weight_y=10  # staging tests, then 10 % on Y
#   terraform apply -var target_phase=serving -var weight_y=50
#   terraform apply -var target_phase=finished                # 100 % on Y, migrations finish
#   terraform apply -var target_phase=completed               # X decommissioned
#
# Until `finished`, lowering weight_y or target_phase sends traffic back to
# X (and so does `terraform destroy` with on_destroy = "rollback"; by
# default destroying an unfinished upgrade is refused). After it there is
# no way back but the backup. Keep Admin API writes frozen from `prepared`
# to `completed`: the apply checks the configuration did not change before
# Y takes traffic and before finishing.
resource "kong_upgrade" "this" {
  strategy     = "blue_green"
  to_version   = var.to_version
  target_phase = var.target_phase
  weight_y     = var.weight_y
  on_destroy   = var.on_destroy

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
      env  = var.kong_cli_env
    }
  }

  traffic {
    haproxy {
      runtime_api = var.haproxy_runtime_api
      backend     = var.haproxy_backend
      server_x    = "x"
      server_y    = "y"
    }
    step_weight = var.step_weight
    interval    = var.step_interval
  }

  backup {
    directory = var.backup_dir
  }

  # Sent to both X and Y before Y takes traffic: the answers must agree.
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
  value = kong_upgrade.this.current_weight_y
}

output "backup_location" {
  description = "Restore this with pg_restore to go back to X after `migrations finish`."
  value       = kong_upgrade.this.backup_location
}
