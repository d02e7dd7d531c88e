resource "kong_upgrade" "this" {
  target_version = "3.4.2"
}
