# Provider functions need Terraform 1.8 or later.
variable "kong_version" {
  type        = string
  description = "The Kong version a cluster runs, e.g. from data.kong_node.x.version."
  default     = "3.4.2"
}

output "needs_upgrade" {
  # -1: older, 0: the same release, 1: newer.
  value = provider::kong::version_compare(var.kong_version, "3.10.0.1") < 0
}
