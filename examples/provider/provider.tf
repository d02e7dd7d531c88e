terraform {
  required_providers {
    kong = {
      source  = "kong-upgrades/kong"
      version = "0.1.0"
    }
  }
}

# Defaults for every Admin API the provider talks to. Each setting can come
# from the environment instead (KONG_ADMIN_TOKEN, KONG_ADMIN_CA_CERT_PEM, ...).
provider "kong" {
  request_timeout = "30s"

  headers = {
    "X-Requested-By" = "terraform"
  }
}
