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
