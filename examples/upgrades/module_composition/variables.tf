# The knobs of a blue-green upgrade composed from the provider's building
# blocks. `stage` is the one you advance, one apply at a time:
#
#   migrate  `kong migrations up` (X keeps working on the database)
#            → then deploy Kong Y with your own tooling (Helm, ECS, ...)
#   shift    traffic moves to Y up to weight_y, checking Y at every step
#   finish   all traffic on Y, then `kong migrations finish` (no way back to X)

variable "stage" {
  type        = string
  description = "migrate, shift or finish."
  default     = "migrate"

  validation {
    condition     = contains(["migrate", "shift", "finish"], var.stage)
    error_message = "The stage must be migrate, shift or finish."
  }
}

variable "weight_y" {
  type        = number
  description = "Percent of traffic on Y in the shift stage (finish moves it to 100)."
  default     = 10
}

variable "to_version" {
  type        = string
  description = "The Kong version Y runs."
}

variable "y_admin_url" {
  type        = string
  description = "Admin API of Kong Y, once you deployed it."
}

variable "pg_host" {
  type        = string
  description = "PostgreSQL host of the Kong database X and Y share."
}

variable "pg_port" {
  type        = number
  description = "PostgreSQL port."
  default     = 5432
}

# The provider's schema marks database.password sensitive, so plans never
# show it. The configuration passes it through nonsensitive() because
# Terraform 1.0.x crashes ("value is marked, so must be unmarked first")
# rendering a nested block that holds a sensitive variable.
variable "pg_password" {
  type        = string
  description = "Password of the kong role."
  sensitive   = true
}

variable "pg_database" {
  type        = string
  description = "The Kong database."
  default     = "kong"
}

variable "kong_cli" {
  type        = list(string)
  description = "How to run the `kong` CLI of the target version."
  default     = ["kong"]
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
  description = "Time Y holds each step while the gate checks it (a Go duration)."
  default     = "1m"
}
