# The knobs of a rolling upgrade of DB-less nodes (or hybrid data planes).
# Addresses usually come from terraform.tfvars; target_phase and weight_y are
# the ones you advance, one apply at a time.

variable "target_phase" {
  type        = string
  description = "Where this apply takes the upgrade: prepared, migrated (Y started), serving, finished or completed."
  default     = "prepared"
}

variable "weight_y" {
  type        = number
  description = "Percent of traffic on the new nodes while target_phase = \"serving\"."
  default     = null
}

variable "to_version" {
  type        = string
  description = "The Kong version the new nodes run."
}

variable "control_plane_admin_url" {
  type        = string
  description = "Data planes only: Admin API of their control plane (a data plane may not be newer than its control plane's minor)."
  default     = null
}

variable "x_admin_url" {
  type        = string
  description = "Admin API of a node of the running cluster X."
}

variable "x_proxy_url" {
  type        = string
  description = "Proxy of cluster X."
}

variable "y_admin_url" {
  type        = string
  description = "Admin API of a new node (Y)."
}

variable "y_status_url" {
  type        = string
  description = "Status API of the new node: ready once it holds a configuration."
  default     = null
}

variable "y_proxy_url" {
  type        = string
  description = "Proxy of the new node."
}

variable "declarative_config_path" {
  type        = string
  description = "The declarative configuration (kong.yml) the nodes serve; it is backed up before the upgrade."
}

variable "backup_dir" {
  type        = string
  description = "Where the copy of the declarative configuration is written."
}

variable "haproxy_runtime_api" {
  type        = string
  description = "HAProxy's runtime API: a unix socket path or host:port (admin level)."
}

variable "haproxy_backend" {
  type        = string
  description = "The HAProxy backend holding the old and the new nodes."
  default     = "kong"
}

variable "step_weight" {
  type        = number
  description = "Percent of traffic moved per step towards the new nodes."
  default     = 25
}

variable "step_interval" {
  type        = string
  description = "Pause after each traffic step (a Go duration)."
  default     = "30s"
}

variable "start_y_command" {
  type        = list(string)
  description = "Starts the new nodes with the same declarative configuration. Without it, the apply waits until they answer."
  default     = null
}

variable "decommission_x_command" {
  type        = list(string)
  description = "Stops the old nodes. Without it, the apply waits until they stop answering."
  default     = null
}
