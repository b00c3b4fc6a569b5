#!/usr/bin/env bash
# Checks ops/: the Prometheus rules parse and pass their unit tests, the Grafana dashboard is valid JSON
# whose queries parse as PromQL, and every mysetlist_* metric used is documented in ops/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in promtool jq; do
  command -v "$tool" >/dev/null || {
    echo "check-ops: $tool is missing; run scripts/install-test-deps.sh" >&2
    exit 2
  }
done
rules=ops/prometheus/mysetlist-alerts.yml
dashboard=ops/grafana/mysetlist-dashboard.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

promtool check rules "$rules"
promtool test rules ops/prometheus/mysetlist-alerts.test.yml

# The dashboard: unique panel ids, every panel on the templated data source, and queries that parse
# (each becomes a recording rule, with Grafana's variables replaced by plausible values).
jq -e '[.panels[].id] | length == (unique | length)' "$dashboard" >/dev/null ||
  { echo "check-ops: duplicate panel ids in $dashboard" >&2; exit 1; }
jq -e 'all(.panels[]; .datasource.uid == "${datasource}")' "$dashboard" >/dev/null ||
  { echo "check-ops: a panel does not use the \${datasource} variable" >&2; exit 1; }
# shellcheck disable=SC2016 # the $ are Grafana's variables, not the shell's
jq -r '{groups: [{name: "dashboard", rules: [[.panels[].targets[]] | to_entries[] | {record: "dashboard:query_\(.key)", expr: .value.expr}]}]}' \
  "$dashboard" | sed -e 's/\$__rate_interval/5m/g' -e 's/\$instance/.*/g' >"$work/dashboard-rules.json"
promtool check rules "$work/dashboard-rules.json" >/dev/null 2>&1 ||
  { promtool check rules "$work/dashboard-rules.json"; exit 1; }
echo "check-ops: $(jq '[.panels[].targets[]] | length' "$dashboard") dashboard queries parse"

# Every metric used is in the documented list (the contract with the server's /metrics).
used=$({ grep -oh 'mysetlist_[a-z_]*' "$rules"; jq -r '.panels[].targets[].expr' "$dashboard" | grep -o 'mysetlist_[a-z_]*'; } |
  sed -E 's/_(bucket|sum|count)$//' | sort -u)
missing=0
for metric in $used; do
  grep -q "\`$metric\`" ops/README.md || { echo "check-ops: $metric is used but not listed in ops/README.md" >&2; missing=1; }
done
((missing == 0))
echo "check-ops: $(wc -w <<<"$used") metrics used, all documented"
