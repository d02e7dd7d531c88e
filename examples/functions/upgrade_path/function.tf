# Provider functions need Terraform 1.8 or later.
locals {
  path = provider::kong::upgrade_path("2.6.0", "3.4.2")
}

output "upgrade_supported" {
  value = local.path.supported # false
}

output "upgrade_first_through" {
  value = local.path.hops # ["2.8.x", ...]: the releases to go through first
}
