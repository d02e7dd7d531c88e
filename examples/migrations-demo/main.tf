# The migrations an upgrade would run, before running any: `terraform plan`
# here lists, per subsystem, what `kong migrations up` and then
# `kong migrations finish` of Kong `to_version` would do to the database.
#
# The variable names match what `sandbox up` writes into
# .sandbox/terraform.tfvars (see README.md); kongsim, the project's Kong test
# double, stands in for the `kong` CLI.

terraform {
  required_version = ">= 1.11" # password_wo
  required_providers {
    kong = {
      source  = "kong-upgrades/kong"
      version = "0.1.0"
    }
  }
}

variable "to_version" {
  type        = string
  description = "The Kong version to migrate the database to."
  default     = "3.6.1"
}

variable "pg_host" {
  type        = string
  description = "PostgreSQL host of the Kong database."
  default     = "127.0.0.1"
}

variable "pg_port" {
  type        = number
  description = "PostgreSQL port."
  default     = 5432
}

variable "pg_user" {
  type        = string
  description = "PostgreSQL role Kong connects as."
  default     = "kong"
}

variable "pg_password" {
  type        = string
  description = "Password of pg_user."
  sensitive   = true
}

variable "pg_database" {
  type        = string
  description = "The Kong database."
  default     = "kong"
}

variable "kongsim_bin" {
  type        = string
  description = "The kongsim binary, standing in for the `kong` CLI of to_version."
}

locals {
  kong_cli = [var.kongsim_bin, "--kong-version", var.to_version]
}

# Where the database stands now, and what to_version would add.
data "kong_migrations" "now" {
  target_version = var.to_version

  database {
    host     = var.pg_host
    port     = var.pg_port
    user     = var.pg_user
    password = var.pg_password
    database = var.pg_database
  }
}

resource "kong_migration_phase" "up" {
  phase          = "up"
  target_version = var.to_version

  database {
    host                = var.pg_host
    port                = var.pg_port
    user                = var.pg_user
    password_wo         = var.pg_password
    password_wo_version = 1
    database            = var.pg_database
  }

  runner {
    command {
      argv = local.kong_cli
    }
  }
}

# Runs in the same apply, after up; its plan is known once up has run.
resource "kong_migration_phase" "finish" {
  phase          = "finish"
  target_version = var.to_version
  after          = kong_migration_phase.up.applied_at

  database {
    host                = var.pg_host
    port                = var.pg_port
    user                = var.pg_user
    password_wo         = var.pg_password
    password_wo_version = 1
    database            = var.pg_database
  }

  runner {
    command {
      argv = local.kong_cli
    }
  }
}

output "schema_level" {
  description = "The Kong release the database's core migrations correspond to."
  value       = data.kong_migrations.now.schema_level
}

output "new_migrations" {
  description = "What `kong migrations up` of to_version would run, per subsystem."
  value       = data.kong_migrations.now.new
}

output "pending_migrations" {
  description = "Migrations waiting for `kong migrations finish`."
  value       = data.kong_migrations.now.pending
}
