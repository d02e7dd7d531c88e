# A blue-green upgrade of the local sandbox (`make demo`): cluster X runs
# var.from_version, cluster Y will run var.to_version on the same database,
# and HAProxy shifts the traffic. Each apply advances to var.target_phase:
#
#   prepared   freeze check, backup, Y's migrations planned
#   migrated   `kong migrations up`, Y started (hook) and ready, staging test
#   serving    traffic shifted to Y up to var.weight_y percent, step by step
#   finished   all traffic on Y, `kong migrations finish` (no way back to X)
#   completed  X decommissioned (hook)
#
# The sandbox writes every address into terraform.tfvars (see variables.tf).
resource "kong_upgrade" "demo" {
  strategy     = "blue_green"
  to_version   = var.to_version
  target_phase = var.target_phase
  weight_y     = var.weight_y

  cluster_x {
    admin_url  = var.x_admin_url
    status_url = var.x_status_url
    proxy_url  = var.x_proxy_url
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
    password = var.pg_password
    database = var.pg_database
  }

  # kongsim stands in for the `kong` CLI of the target version.
  runner {
    command {
      argv = [var.kongsim_bin, "--kong-version", var.to_version]
    }
  }

  traffic {
    haproxy {
      runtime_api = var.haproxy_socket
      backend     = var.haproxy_backend
      server_x    = "x"
      server_y    = "y"
    }
    step_weight = 25
    interval    = "1s"
  }

  backup {
    directory = var.backup_dir
  }

  staging_test {
    name          = "proxy answers"
    path          = "/demo"
    expect_status = 200
  }

  # Clusters the provider does not own are started and stopped by hooks.
  hooks = {
    start_y        = [var.sandbox_bin, "start-y", "--dir", var.sandbox_dir]
    decommission_x = [var.sandbox_bin, "stop-x", "--dir", var.sandbox_dir]
  }
}
