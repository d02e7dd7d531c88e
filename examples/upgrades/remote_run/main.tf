# A dual-cluster upgrade run where nothing survives between applies but the
# state: an HCP Terraform run, a CI job on a fresh runner. Nothing here
# points at the local disk:
#
# - the kong CLI of the target version runs on the far side of a boundary
#   (`kubectl exec -i`, `docker exec -i`, `ssh`) that does not pass the local
#   environment on, so `env_transport = "stdin"` sends the database settings
#   over stdin to a POSIX `sh` prologue that exports them and execs `kong`;
# - the backup streams from `pg_dump` into `upload_command` (an object
#   store, say) and comes back through `download_command` for the restore,
#   checked against the size and sha256 recorded in `backup_location`.
#
# One target_phase per run:
#
#   terraform apply -var target_phase=prepared                  # freeze recorded, pg_dump | upload_command
#   terraform apply -var target_phase=migrated                  # download_command | pg_restore into the new database, up + finish, Y started
#   terraform apply -var target_phase=serving -var weight_y=10  # staging tests, then 10 % on Y
#   terraform apply -var target_phase=finished                  # 100 % on Y (X kept for rollback)
#   terraform apply -var target_phase=completed                 # X decommissioned
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
      # e.g. ["kubectl", "exec", "-i", "-n", "kong", "deploy/kong-y", "--", "kong"]
      argv          = var.kong_cli
      env_transport = "stdin"
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
    # e.g. ["sh", "-c", "aws s3 cp - s3://kong-backups/$KONG_BACKUP_NAME"]
    upload_command = var.backup_upload_command
    # e.g. ["sh", "-c", "aws s3 cp s3://kong-backups/$KONG_BACKUP_NAME -"]
    download_command = var.backup_download_command
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
