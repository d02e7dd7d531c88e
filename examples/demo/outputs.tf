output "phase" {
  description = "Where the upgrade stands after this apply."
  value       = kong_upgrade.demo.phase
}

output "history" {
  description = "Every step executed so far, with times and what it measured."
  value       = kong_upgrade.demo.history
}
