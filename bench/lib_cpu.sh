# lib_cpu.sh - CPU time of processes, read from /proc, for the benchmark
# scripts (sourced: `. "$root/bench/lib_cpu.sh"`).  Figures are clock ticks;
# $tck ticks make a second.
tck=$(getconf CLK_TCK)

# ticks PID: the user + system ticks process PID has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# pg_cluster_ticks DIR: the ticks of the PostgreSQL cluster in DIR (made by
# tests/pg-cluster.sh): its backends, those already ended (the postmaster's
# reaped children) and those still alive.  The cluster should serve nothing
# but the measured work meanwhile.
pg_cluster_ticks() {
  local pm t c
  pm=$(head -1 "$1/data/postmaster.pid")
  t=$(awk '{print $16 + $17}' "/proc/$pm/stat")
  for c in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
    t=$((t + $(ticks "$c" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
