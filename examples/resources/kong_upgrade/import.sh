# An upgrade already under way is imported by its strategy, target version
# and the Admin APIs of clusters X and Y:
#
#   STRATEGY,TO_VERSION,X_ADMIN_URL,Y_ADMIN_URL
#
# The next plan works out how far it got (migrations in schema_meta, the
# version Y runs, the load balancer's split) and takes the rest of the
# settings from the configuration.
terraform import kong_upgrade.gateway blue_green,3.4.3,http://kong-x.internal:8001,http://kong-y.internal:8001
