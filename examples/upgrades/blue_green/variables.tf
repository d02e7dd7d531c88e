# The knobs of a blue-green upgrade. Addresses and credentials usually come
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

variable "on_destroy" {
  type        = string
  description = "What `terraform destroy` does to an unfinished upgrade: \"refuse\" (the default when null) or \"rollback\" (all traffic back to X, its database left usable; possible only before `finished`)."
  default     = null
}

variable "to_version" {
  type        = string
  description = "The Kong version cluster Y runs (a patch, or at most the next minor, of X's)."
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
  description = "PostgreSQL host of the database X and Y share."
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
  description = "How to run the `kong` CLI of the target version (e.g. [\"kubectl\", \"exec\", \"deploy/kong-y\", \"--\", \"kong\"])."
  default     = ["kong"]
}

variable "kong_cli_env" {
  type        = map(string)
  description = "Extra environment for the kong CLI (not secret: it may be logged)."
  default     = {}
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

variable "backup_dir" {
  type        = string
  description = "Where the pg_dump backup taken before the upgrade is written."
}

variable "start_y_command" {
  type        = list(string)
  description = "Starts cluster Y once its migrations ran. Without it, the apply waits until Y answers."
  default     = null
}

variable "decommission_x_command" {
  type        = list(string)
  description = "Stops cluster X for good. Without it, the apply waits until X stops answering."
  default     = null
}
