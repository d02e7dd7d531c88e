# The knobs of a dual-cluster upgrade. Addresses and credentials usually come
# from terraform.tfvars; target_phase and weight_y are the ones you advance,
# one apply at a time: prepared → migrated → serving (weight_y 10, 50, ...)
# → finished → completed.

variable "target_phase" {
  type        = string
  description = "Where this apply takes the upgrade: prepared, migrated, serving, finished or completed."
  default     = "prepared"
}

variable "weight_y" {
  type        = number
  description = "Percent of traffic on cluster Y while target_phase = \"serving\"."
  default     = null
}

variable "to_version" {
  type        = string
  description = "The Kong version cluster Y runs."
}

variable "x_admin_url" {
  type        = string
  description = "Admin API of the running cluster X."
}

variable "x_proxy_url" {
  type        = string
  description = "Proxy of cluster X (staging tests compare its answers with Y's)."
}

variable "y_admin_url" {
  type        = string
  description = "Admin API of cluster Y."
}

variable "y_status_url" {
  type        = string
  description = "Status API of cluster Y (/status/ready, Kong >= 3.3)."
  default     = null
}

variable "y_proxy_url" {
  type        = string
  description = "Proxy of cluster Y."
}

variable "pg_host" {
  type        = string
  description = "PostgreSQL host of X's database (only read: pg_dump)."
}

variable "pg_port" {
  type        = number
  description = "PostgreSQL port."
  default     = 5432
}

variable "pg_user" {
  type        = string
  description = "Role Kong logs in as."
  default     = "kong"
}

# The provider's schema marks database.password sensitive, so plans never
# show it. The configuration passes it through nonsensitive() because
# Terraform 1.0.x crashes ("value is marked, so must be unmarked first")
# rendering a nested block that holds a sensitive variable.
variable "pg_password" {
  type        = string
  description = "Password of pg_user."
  sensitive   = true
}

variable "pg_database" {
  type        = string
  description = "X's Kong database."
  default     = "kong"
}

variable "new_pg_host" {
  type        = string
  description = "PostgreSQL host of Y's new database."
}

variable "new_pg_port" {
  type        = number
  description = "PostgreSQL port of Y's new database."
  default     = 5432
}

variable "new_pg_password" {
  type        = string
  description = "Password of pg_user on Y's new database."
  sensitive   = true
}

variable "new_pg_database" {
  type        = string
  description = "Y's new, empty database: X's backup is restored into it and Y's migrations run there."
}

variable "kong_cli" {
  type        = list(string)
  description = "The boundary to the `kong` CLI of the target version, its last element being the far-side `kong` (e.g. [\"kubectl\", \"exec\", \"-i\", \"deploy/kong-y\", \"--\", \"kong\"]). The settings travel over stdin."
}

variable "haproxy_runtime_api" {
  type        = string
  description = "HAProxy's runtime API: a unix socket path or host:port (admin level)."
}

variable "haproxy_backend" {
  type        = string
  description = "The HAProxy backend holding both clusters."
  default     = "kong"
}

variable "step_weight" {
  type        = number
  description = "Percent of traffic moved per step towards Y."
  default     = 10
}

variable "step_interval" {
  type        = string
  description = "Pause after each traffic step (a Go duration)."
  default     = "30s"
}

variable "backup_upload_command" {
  type        = list(string)
  description = "Reads the pg_dump stream on stdin and stores it as $KONG_BACKUP_NAME somewhere that outlives the run (an object store)."
}

variable "backup_download_command" {
  type        = list(string)
  description = "Writes the backup named $KONG_BACKUP_NAME to stdout, for the restore into the new database."
}

variable "start_y_command" {
  type        = list(string)
  description = "Starts cluster Y on the new database once its migrations ran. Without it, the apply waits until Y answers."
  default     = null
}

variable "decommission_x_command" {
  type        = list(string)
  description = "Stops cluster X for good. Without it, the apply waits until X stops answering."
  default     = null
}
