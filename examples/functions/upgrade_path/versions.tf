terraform {
  # Provider functions exist from Terraform 1.8.
  required_version = ">= 1.8"
  required_providers {
    kong = {
      source = "kong-upgrades/kong"
    }
  }
}
