# A migration phase is imported by the database it ran on, the phase and the
# Kong version that ran it:
#
#   host:port/database/phase@target_version
#   host:port/database/schema/phase@target_version   (when Kong uses pg_schema)
#
# The next plan takes the credentials and the runner from the configuration,
# checks the phase's result holds in the database (or plans to run it again),
# and records the settings; nothing runs when the phase is already done.
terraform import kong_migration_phase.up db.internal:5432/kong/up@3.6.1
