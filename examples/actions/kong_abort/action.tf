# terraform apply -invoke=action.kong_abort.now
action "kong_abort" "now" {
  config {
    to_version = "3.6.1"

    # With the database, the action refuses once `kong migrations finish` ran.
    database {
      host     = "db.internal"
      password = var.kong_pg_password
    }

    traffic {
      haproxy {
        runtime_api = "/run/haproxy/admin.sock"
        backend     = "kong"
        server_x    = "kong_x"
        server_y    = "kong_y"
      }
    }
  }
}

variable "kong_pg_password" {
  type      = string
  sensitive = true
}
