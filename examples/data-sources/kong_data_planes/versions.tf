terraform {
  required_providers {
    kong = {
      source = "kong-upgrades/kong"
    }
  }
}
