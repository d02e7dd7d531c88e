variable "kong_cp_admin_url" {
  type        = string
  description = "Admin API of the hybrid-mode control plane."
  default     = "http://127.0.0.1:8001"
}

# The data planes connected to a control plane: upgrade the control plane
# first, then roll the data planes once they all report `normal` sync.
data "kong_data_planes" "cp" {
  admin_url = var.kong_cp_admin_url
}

output "data_plane_versions" {
  value = data.kong_data_planes.cp.versions
}

output "data_planes_out_of_sync" {
  value = data.kong_data_planes.cp.incompatible_count
}
