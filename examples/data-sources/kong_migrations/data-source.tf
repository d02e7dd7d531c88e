variable "kong_pg_host" {
  type        = string
  description = "PostgreSQL host of the Kong database."
}

variable "kong_pg_port" {
  type        = number
  description = "PostgreSQL port."
  default     = 5432
}

variable "kong_pg_database" {
  type        = string
  description = "The Kong database."
  default     = "kong"
}

variable "kong_pg_password" {
  type        = string
  description = "Password of the kong role."
  sensitive   = true
}

# Where the database stands, and what `kong migrations up` of 3.6.1 would run.
data "kong_migrations" "kong" {
  target_version = "3.6.1"

  database {
    host     = var.kong_pg_host
    port     = var.kong_pg_port
    database = var.kong_pg_database
    password = var.kong_pg_password
  }
}

output "schema_level" {
  value = data.kong_migrations.kong.schema_level
}

output "new_for_3_6_1" {
  value = data.kong_migrations.kong.new
}

output "pending" {
  value = data.kong_migrations.kong.pending
}

output "migration_lock" {
  value = data.kong_migrations.kong.lock_held_by == null ? "free" : "held by ${data.kong_migrations.kong.lock_held_by} until ${data.kong_migrations.kong.lock_expires}"
}
