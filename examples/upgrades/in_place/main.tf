# An in-place upgrade: X stops, Y's `kong migrations up` and `finish` run on
# the same database, and Y starts. Kong's simplest runbook, with downtime:
#
#   terraform apply -var target_phase=prepared   # freeze check, pg_dump backup
#   terraform apply -var target_phase=finished   # the downtime window, in one apply
#   terraform apply -var target_phase=completed  # X decommissioned, writes may resume
#
# `terraform plan` says which step starts the downtime and after which it ends.
resource "kong_upgrade" "this" {
  strategy       = "in_place"
  to_version     = var.to_version
  target_phase   = var.target_phase
  allow_downtime = var.allow_downtime

  cluster_x {
    admin_url = var.x_admin_url
  }

  cluster_y {
    admin_url  = var.y_admin_url
    status_url = var.y_status_url
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

  # Your orchestrator's commands; the apply waits for X to stop answering and
  # for Y to answer either way.
  hooks = { for name, argv in {
    stop_x  = var.stop_x_command
    start_y = var.start_y_command
  } : name => argv if argv != null }

  timeouts {
    create = "30m"
    update = "30m"
  }
}

output "phase" {
  value = kong_upgrade.this.phase
}

output "backup_location" {
  description = "Restore this with pg_restore to go back to X after `migrations finish`."
  value       = kong_upgrade.this.backup_location
}
