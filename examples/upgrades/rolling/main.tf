# A rolling upgrade of DB-less Kong nodes: there is no database to migrate,
# so new nodes start on the same declarative configuration and take traffic
# step by step while the old ones drain.
#
#   terraform apply -var target_phase=prepared                # config hash recorded, kong.yml backed up
#   terraform apply -var target_phase=migrated                # new nodes started and ready
#   terraform apply -var target_phase=serving -var weight_y=50  # staging tests, then half the traffic
#   terraform apply -var target_phase=finished                # all traffic on the new nodes
#   terraform apply -var target_phase=completed               # old nodes stopped
#
# Do not change kong.yml during the upgrade: the apply compares the old
# nodes' configuration hash with the one recorded at `prepared`.
resource "kong_upgrade" "this" {
  strategy                = "rolling"
  to_version              = var.to_version
  target_phase            = var.target_phase
  weight_y                = var.weight_y
  control_plane_admin_url = var.control_plane_admin_url

  cluster_x {
    admin_url = var.x_admin_url
    proxy_url = var.x_proxy_url
  }

  cluster_y {
    admin_url  = var.y_admin_url
    status_url = var.y_status_url
    proxy_url  = var.y_proxy_url
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
    directory               = var.backup_dir
    declarative_config_path = var.declarative_config_path
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
}

output "phase" {
  value = kong_upgrade.this.phase
}

output "weight_y" {
  value = kong_upgrade.this.current_weight_y
}
