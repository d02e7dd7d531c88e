# The knobs of an in-place upgrade. Addresses and credentials usually come
# from terraform.tfvars; target_phase is the one you advance, one apply at a
# time: prepared → finished → completed.

variable "target_phase" {
  type        = string
  description = "Where this apply takes the upgrade: prepared, finished (stop X, migrate, start Y: the downtime window) or completed."
  default     = "prepared"
}

variable "allow_downtime" {
  type        = bool
  description = "An in-place upgrade stops X before Y starts on the same database: set to true to accept the downtime (the plan names its first and last step)."
  default     = false
}

variable "to_version" {
  type        = string
  description = "The Kong version to upgrade to."
}

variable "x_admin_url" {
  type        = string
  description = "Admin API of the running cluster X."
}

variable "y_admin_url" {
  type        = string
  description = "Admin API of cluster Y once it runs (often the same address as X)."
}

variable "y_status_url" {
  type        = string
  description = "Status API of cluster Y (/status/ready, Kong >= 3.3)."
  default     = null
}

variable "pg_host" {
  type        = string
  description = "PostgreSQL host of the Kong database."
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
  description = "The Kong database."
  default     = "kong"
}

variable "kong_cli" {
  type        = list(string)
  description = "How to run the `kong` CLI of the target version (the migrations run through it)."
  default     = ["kong"]
}

variable "backup_dir" {
  type        = string
  description = "Where the pg_dump backup taken before the upgrade is written."
}

variable "stop_x_command" {
  type        = list(string)
  description = "Stops cluster X (e.g. scales its deployment to zero). Without it, the apply waits until X stops answering."
  default     = null
}

variable "start_y_command" {
  type        = list(string)
  description = "Starts cluster Y on the migrated database. Without it, the apply waits until Y answers."
  default     = null
}
