# A dual-cluster upgrade, Kong's recommended runbook: X's database is backed
# up and restored into a new database, where Y's `kong migrations up` and
# `finish` run. X's database is never touched, so sending traffic back to X
# stays possible until X is decommissioned.
#
#   terraform apply -var target_phase=prepared                # freeze recorded, pg_dump of X's database
#   terraform apply -var target_phase=migrated                # pg_restore into the new database, up + finish there, Y started
#   terraform apply -var target_phase=serving -var weight_y=10  # staging tests, then 10 % on Y
#   terraform apply -var target_phase=finished                # 100 % on Y (X kept for rollback)
#   terraform apply -var target_phase=completed               # X decommissioned
#
# While both run, counters kept in the database (rate limiting with
# policy = cluster, Vitals) count separately on X and Y: the plan warns.
resource "kong_upgrade" "this" {
  strategy     = "dual_cluster"
  to_version   = var.to_version
  target_phase = var.target_phase
  weight_y     = var.weight_y

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

  new_database {
    host     = var.new_pg_host
    port     = var.new_pg_port
    user     = var.pg_user
    password = nonsensitive(var.new_pg_password)
    database = var.new_pg_database
  }

  runner {
    command {
      argv = var.kong_cli
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

output "warnings" {
  value = kong_upgrade.this.warnings
}
