# terraform apply -invoke=action.kong_promote.next
action "kong_promote" "next" {
  config {
    max_weight_y = 50

    traffic {
      step_weight = 10

      haproxy {
        runtime_api = "/run/haproxy/admin.sock"
        backend     = "kong"
        server_x    = "kong_x"
        server_y    = "kong_y"
      }

      gate {
        name  = "y-healthy"
        count = 3
        http {
          url = "http://kong-y-status:8100/status/ready"
        }
      }
    }
  }
}
