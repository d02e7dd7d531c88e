# A blue-green upgrade composed by hand: the provider's building blocks
# wired together by references, so Terraform orders them, with the
# deployment of Kong Y left to your own tooling. Use `kong_upgrade` instead
# when you want one resource to run the whole runbook.
#
#   terraform apply -var stage=migrate
#   (deploy Kong Y, e.g. helm upgrade kong-y ...)
#   terraform apply -var stage=shift -var weight_y=10
#   terraform apply -var stage=shift -var weight_y=50
#   terraform apply -var stage=finish

locals {
  y_deployed = var.stage != "migrate"
  finish     = var.stage == "finish"
}

# 1. Y's schema. `up` leaves the database usable by X.
resource "kong_migration_phase" "up" {
  phase          = "up"
  target_version = var.to_version

  database {
    host     = var.pg_host
    port     = var.pg_port
    password = nonsensitive(var.pg_password) # see the note in variables.tf
    database = var.pg_database
  }

  runner {
    command {
      argv = var.kong_cli
    }
  }
}

# 2. Your deployment of Kong Y runs here, between the migrate and shift
#    stages. If it is itself Terraform (helm_release, kubernetes_deployment,
#    aws_ecs_service), declare it in this configuration with
#    `depends_on = [kong_migration_phase.up]` and merge the two stages.
#    From the shift stage on, Y must answer: reading it fails the plan
#    before any traffic moves otherwise.
data "kong_node" "y" {
  count     = local.y_deployed ? 1 : 0
  admin_url = var.y_admin_url
}

# 3. Traffic, step by step; at every step the gate checks that Y runs the
#    version the migrations were made for, and rolls back to X if not.
resource "kong_traffic_split" "to_y" {
  count       = local.y_deployed ? 1 : 0
  weight_y    = local.finish ? 100 : var.weight_y
  step_weight = var.step_weight
  interval    = var.step_interval
  on_failure  = "rollback"
  depends_on  = [kong_migration_phase.up]

  haproxy {
    runtime_api = var.haproxy_runtime_api
    backend     = var.haproxy_backend
    server_x    = "x"
    server_y    = "y"
  }

  gate {
    name     = "Y runs the migrated version"
    interval = var.step_interval
    count    = 1
    http {
      url            = var.y_admin_url
      json_path      = "$.version"
      expected_value = var.to_version
    }
  }
}

# 4. `migrations finish`, only once all traffic is on Y: it runs after the
#    split in the finish stage, and X cannot use the database afterwards.
resource "kong_migration_phase" "finish" {
  count = local.finish ? 1 : 0

  phase          = "finish"
  target_version = kong_migration_phase.up.target_version
  after          = kong_traffic_split.to_y[0].id

  database {
    host     = var.pg_host
    port     = var.pg_port
    password = nonsensitive(var.pg_password)
    database = var.pg_database
  }

  runner {
    command {
      argv = var.kong_cli
    }
  }
}

output "migrations_run_by_up" {
  value = kong_migration_phase.up.migrations_to_run
}

output "weight_y" {
  value = local.y_deployed ? kong_traffic_split.to_y[0].current_weight_y : 0
}
