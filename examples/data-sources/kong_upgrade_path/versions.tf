terraform {
  # `check` blocks exist from Terraform 1.5.
  required_version = ">= 1.5"
  required_providers {
    kong = {
      source = "kong-upgrades/kong"
    }
  }
}
