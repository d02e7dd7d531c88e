output "v" {
  value = provider::kong::normalize_version("3.4.2.0")
}
