# Shared by the benchmark scripts (sourced, not run).

# write_spec FILE N: the apply spec of the article's CA, its Collector server and N applications.
write_spec() {
  local i
  {
    printf '[ca]\ncn = "OTel CA"\norg = "MyCompany"\n\n'
    printf '[[server]]\nsans = ["otel-collector.observability.svc", "localhost"]\n\n'
    for ((i = 1; i <= $2; i++)); do printf '[[client]]\ncn = "app-%d"\norg = "MyCompany"\n\n' "$i"; done
  } > "$1"
}

# spread_runs DIR: gives DIR ext4's top-directory attribute, so that the kernel spreads the run
# directories made in it over block groups (bench/durability.sh says why that matters); fails,
# after saying so, where it cannot (not ext4).
spread_runs() {
  chattr +T "$1" 2>/dev/null && return
  echo "bench: chattr +T failed on $1 (not ext4?): runs share one block group" >&2
  return 1
}
