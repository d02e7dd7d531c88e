# Blue-green migrations of a Kong datastore from 3.4.2 to 3.6.1, run by the
# `kong` CLI of the new version (here in a Kubernetes deployment of Kong Y).

variable "kong_pg_host" {
  type        = string
  description = "PostgreSQL host of the Kong database."
}

variable "kong_pg_port" {
  type        = number
  description = "PostgreSQL port."
  default     = 5432
}

variable "kong_pg_database" {
  type        = string
  description = "The Kong database."
  default     = "kong"
}

variable "kong_pg_password" {
  type        = string
  description = "Password of the kong role."
  sensitive   = true
}

variable "kong_y_cli" {
  type        = list(string)
  description = "How to run the `kong` CLI of the target version."
  default     = ["kubectl", "exec", "deploy/kong-y", "--", "kong"]
}

variable "finish" {
  type        = bool
  description = "Set once Kong Y serves all traffic: finish makes the database unusable for Kong X."
  default     = false
}

# `kong migrations up`: the plan lists every migration it will run; Kong X
# keeps working on the database afterwards.
resource "kong_migration_phase" "up" {
  phase          = "up"
  target_version = "3.6.1"
  db_timeout     = 60
  lock_timeout   = 120

  database {
    host                = var.kong_pg_host
    port                = var.kong_pg_port
    database            = var.kong_pg_database
    password_wo         = var.kong_pg_password # never stored (Terraform >= 1.11)
    password_wo_version = 1
  }

  runner {
    command {
      argv = var.kong_y_cli
    }
  }

  timeouts {
    create = "30m"
    update = "30m"
  }
}

# `kong migrations finish`, once Kong Y has taken over: the plan lists the
# pending teardowns. Destroying either resource never reverses migrations.
resource "kong_migration_phase" "finish" {
  count = var.finish ? 1 : 0

  phase          = "finish"
  target_version = kong_migration_phase.up.target_version
  after          = kong_migration_phase.up.applied_at

  database {
    host                = var.kong_pg_host
    port                = var.kong_pg_port
    database            = var.kong_pg_database
    password_wo         = var.kong_pg_password
    password_wo_version = 1
  }

  runner {
    command {
      argv = var.kong_y_cli
    }
  }
}

output "migrations_run_by_up" {
  value = kong_migration_phase.up.migrations_to_run
}
