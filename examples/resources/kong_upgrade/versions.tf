terraform {
  # Write-only attributes (`password_wo`) exist from Terraform 1.11.
  required_version = ">= 1.11"
  required_providers {
    kong = {
      source = "kong-upgrades/kong"
    }
  }
}
