terraform {
  # Actions (`action` blocks, `terraform apply -invoke`) exist from Terraform 1.14.
  required_version = ">= 1.14"
  required_providers {
    kong = {
      source = "kong-upgrades/kong"
    }
  }
}
