#!/bin/bash
# Copy the results of one finished paper sweep into docs/results/<paper>/: the report tables, the
# claims table and the figures, after re-running `seqlab report` and `seqlab check` on it with the
# current code. Usage (from the repo root): docs/results/collect.sh induction [RUNS_ROOT]
# RUNS_ROOT defaults to runs/. The page docs/results/<paper>.md (command, wall time, commit and the
# discussion) is written by hand from what this prints.
set -u
paper=$1
root=${2:-runs}
sweep=$root/paper-$paper
out=docs/results/$paper
[ -d "$sweep" ] || { echo "no sweep directory $sweep" >&2; exit 2; }
mkdir -p "$out"
case $paper in
  induction) report_args=(--metric "test_accuracy@N=16,test_accuracy@N=32,test_accuracy@N=64,test_accuracy@N=128,test_accuracy@N=256,test_accuracy@N=512,params,train_tokens_per_s,wall_s") ;;
  zoology) report_args=(--best-over train.lr --by valid_loss) ;;
  fusion) report_args=(--metric "test_bpb,valid_bpb,params,train_tokens_per_s,prefill_tokens_per_s@256,prefill_tokens_per_s@1024,prefill_tokens_per_s@4096,decode_ms_per_token@256,decode_ms_per_token@1024,decode_ms_per_token@4096,peak_tensor_bytes,rss_peak_bytes") ;;
  *) report_args=(--metric "accuracy,exact_match,params,train_tokens_per_s,wall_s") ;;
esac
node bin/seqlab.js report "$sweep" "${report_args[@]}" --out "$sweep/reports/docs" > /dev/null
node bin/seqlab.js check "configs/paper/$paper.yaml" --set "output.root=$root" > /dev/null
echo "check exit code: $? (1 = some claim fails)"
cp "$sweep"/reports/docs/table.md "$sweep"/reports/docs/runs.csv "$sweep"/reports/docs/groups.csv "$sweep"/reports/claims.md "$sweep"/reports/claims.json "$out"/
for f in "$sweep"/reports/docs/*.svg "$sweep"/reports/docs/*.png; do [ -s "$f" ] && cp "$f" "$out"/; done
ls "$out"
grep "^== $paper " "$root/paper-runs.log" 2>/dev/null
