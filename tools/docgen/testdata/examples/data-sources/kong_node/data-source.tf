data "kong_node" "this" {
  admin_url = "http://127.0.0.1:8001"
}
