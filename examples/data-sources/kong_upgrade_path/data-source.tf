# Is the jump from 3.4.2 to 3.10.0 one Kong supports? Pure computation:
# nothing is read from any cluster, so it works before anything exists.
data "kong_upgrade_path" "lts" {
  from = "3.4.2"
  to   = "3.10.0"
}

# Fail the plan early when the path needs intermediate stops.
check "upgrade_path_supported" {
  assert {
    condition     = data.kong_upgrade_path.lts.supported
    error_message = data.kong_upgrade_path.lts.summary
  }
}

output "path_kind" {
  value = data.kong_upgrade_path.lts.kind # "lts"
}

output "path_warnings" {
  value = data.kong_upgrade_path.lts.warnings
}
