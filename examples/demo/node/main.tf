# Stage A of `make demo`: read cluster X of the local sandbox.
terraform {
  required_version = ">= 1.0"

  required_providers {
    kong = {
      source  = "kong-upgrades/kong"
      version = "0.1.0"
    }
  }
}

provider "kong" {}

variable "x_admin_url" {
  type        = string
  description = "Admin API of the node to read (the sandbox's cluster X)."
}

data "kong_node" "x" {
  admin_url = var.x_admin_url
}

output "node" {
  description = "What the provider read from the node."
  value = {
    version            = data.kong_node.x.version
    edition            = data.kong_node.x.edition
    role               = data.kong_node.x.role
    database           = data.kong_node.x.database
    database_reachable = data.kong_node.x.database_reachable
    hostname           = data.kong_node.x.hostname
    node_id            = data.kong_node.x.node_id
    plugins_available  = length(data.kong_node.x.plugins_available)
    plugins_enabled    = data.kong_node.x.plugins_enabled
  }
}
