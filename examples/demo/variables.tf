# The knobs a user turns, one apply at a time.

variable "target_phase" {
  type        = string
  description = "Phase this apply advances the upgrade to."
  default     = "prepared"

  validation {
    condition     = contains(["prepared", "migrated", "serving", "finished", "completed"], var.target_phase)
    error_message = "The target_phase must be one of prepared, migrated, serving, finished, completed."
  }
}

variable "weight_y" {
  type        = number
  description = "Share of traffic (percent) cluster Y serves in the serving phase."
  default     = 0
}

# Where the sandbox's components are: written by `sandbox up` into
# .sandbox/terraform.tfvars.

variable "from_version" {
  type        = string
  description = "Kong version cluster X runs (informational; the provider reads it from X)."
}

variable "to_version" {
  type        = string
  description = "Kong version cluster Y runs."
}

variable "x_admin_url" {
  type        = string
  description = "Admin API of cluster X."
}

variable "x_status_url" {
  type        = string
  description = "Status API of cluster X."
}

variable "x_proxy_url" {
  type        = string
  description = "Proxy of cluster X."
}

variable "y_admin_url" {
  type        = string
  description = "Admin API of cluster Y."
}

variable "y_status_url" {
  type        = string
  description = "Status API of cluster Y."
}

variable "y_proxy_url" {
  type        = string
  description = "Proxy of cluster Y."
}

variable "pg_host" {
  type        = string
  description = "PostgreSQL host of the Kong database both clusters share."
}

variable "pg_port" {
  type        = number
  description = "PostgreSQL port."
}

variable "pg_user" {
  type        = string
  description = "PostgreSQL role Kong connects as."
}

variable "pg_password" {
  type        = string
  description = "Password of pg_user."
  sensitive   = true
}

variable "pg_database" {
  type        = string
  description = "The Kong database."
}

variable "kongsim_bin" {
  type        = string
  description = "The kongsim binary, standing in for the `kong` CLI."
}

variable "haproxy_socket" {
  type        = string
  description = "HAProxy's admin-level runtime API socket."
}

variable "haproxy_backend" {
  type        = string
  description = "HAProxy backend holding servers x and y."
}

variable "backup_dir" {
  type        = string
  description = "Where the pg_dump backup goes."
}

variable "sandbox_bin" {
  type        = string
  description = "The sandbox binary, run by the start_y and decommission_x hooks."
}

variable "sandbox_dir" {
  type        = string
  description = "The sandbox directory (.sandbox)."
}
