#!/usr/bin/env bash
# timed_cli.sh LOG COMMAND...: runs COMMAND (the `kong` CLI the provider's
# runner calls) and appends "START END EXIT COMMAND" to LOG, times in
# seconds since the epoch with microseconds. It splits a migrations step's
# time into the CLI's own run and what the provider does around it (reading
# schema_meta before, verifying it after). $EPOCHREALTIME is a bash builtin:
# the wrapper forks nothing itself, and costs one bash start (~2 ms).
log="$1"
shift
start=$EPOCHREALTIME
"$@"
rc=$?
printf '%s %s %s %s\n' "$start" "$EPOCHREALTIME" "$rc" "$*" >>"$log"
exit "$rc"
