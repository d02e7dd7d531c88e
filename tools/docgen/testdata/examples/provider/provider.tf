provider "kong" {
  admin_token = var.admin_token
}
