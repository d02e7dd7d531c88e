import {
  to       = kong_upgrade.this
  identity = { id = "upgrade-1" }
}
