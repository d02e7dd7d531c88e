terraform import kong_upgrade.this upgrade-1
