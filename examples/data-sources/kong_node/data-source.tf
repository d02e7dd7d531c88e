variable "kong_admin_url" {
  type        = string
  description = "Admin API of the Kong node to read."
  default     = "http://127.0.0.1:8001"
}

data "kong_node" "x" {
  admin_url = var.kong_admin_url
}

output "kong_version" {
  value = data.kong_node.x.version
}

output "kong_role" {
  value = data.kong_node.x.role
}
