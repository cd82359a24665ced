#!/usr/bin/env bash
# `hvrr bisect` end to end: in a scratch clone of this repository, commit a
# harmless change, a saved-state layout change (the POST port's section gets
# a new field and version), a seeded one-line PIT regression (the mutant
# tests/mutants/pit-mode2-low-at-reload.mut: mode 2 OUT low one clock late),
# another harmless change; check that `hvrr bisect --good BASE --bad HEAD`
# names the regression commit (which needs the layout commit judged good: the
# trace, recorded before it, must replay across it, not be skipped) and prints
# its divergence report; check the refusals (no repository, bad revisions,
# reversed range, a good revision that already diverges).
# Run by `make bisect-test` with HVRR set to the binary under test.
set -u
HVRR=$(realpath "${HVRR:-build/hvrr}")
TOP=$(git rev-parse --show-toplevel) || { echo "bisect-test: not in a git repository"; exit 1; }
base_tmp=$(realpath "${TMPDIR:-/tmp}")
dir=$(mktemp -d "$base_tmp/hvrr-bisect-test.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
export TMPDIR=$dir
fails=0 passes=0
check() { if [ "$2" -eq 0 ]; then passes=$((passes + 1)); else echo "FAIL: $1"; fails=$((fails + 1)); fi; }

repo=$dir/repo
git clone -q "$TOP" "$repo" || exit 1
cd "$repo" || exit 1
git config user.name "bisect test" && git config user.email "bisect@test.invalid"
trace=corpus/linux-boot-quiet.hvt
base=$(git rev-parse HEAD)

echo "bisect-test note" >bisect-note-1.txt
git add bisect-note-1.txt && git commit -q -m "harmless 1"
# A layout change: struct debugport gains a field, its section a version.
v=$(sed -n 's/^#define DEBUGPORT_VERSION *\([0-9][0-9]*\)$/\1/p' hv/devs/debugport.c)
nv=$((${v:-0} + 1))
sed -i "s/^#define DEBUGPORT_VERSION .*/#define DEBUGPORT_VERSION $nv/" hv/devs/debugport.c
sed -i "s/^\(    SV_U64(struct debugport, writes),\)$/\1\n    SV_U64_SINCE(struct debugport, bisect_probe, $nv, 0),/" hv/devs/debugport.c
sed -i 's/^\(    uint64_t writes;.*\)$/\1\n    uint64_t bisect_probe;/' hv/devs/debugport.h
[ -n "$v" ] && grep -q "bisect_probe, $nv" hv/devs/debugport.c && grep -q "bisect_probe;" hv/devs/debugport.h
check "layout change inserted into debugport (version $v -> $nv)" $?
git commit -q -am "debugport: layout $nv (seeded saved-state layout change)"
layout_commit=$(git rev-parse HEAD)
# The regression: one comparison of the 8254 model, from the mutant set.
python3 scripts/mutants.py apply pit-mode2-low-at-reload "$repo"
! git diff --quiet -- hv/devs/pit8254.c; check "regression applied to hv/devs/pit8254.c" $?
git commit -q -am "pit: seeded regression (mode 2 OUT low one clock late)"
bad_commit=$(git rev-parse HEAD)
echo "bisect-test note" >bisect-note-2.txt
git add bisect-note-2.txt && git commit -q -m "harmless 2"

head_before=$(git rev-parse HEAD)
"$HVRR" bisect --keep --good "$base" --bad HEAD "$trace" >"$dir/out" 2>"$dir/err"
rc=$?
[ $rc -eq 0 ]; check "bisect exit status 0 (got $rc: $(head -3 "$dir/err"))" $?
grep -q "^first bad commit: $bad_commit" "$dir/out"; check "bisect names the regression commit" $?
kept=$(sed -n 's/^scratch directory kept: //p' "$dir/out")
short=$(git rev-parse --short "$layout_commit")
[ -n "$kept" ] && grep -q "^bisect step $short: good" "$kept/bisect.log" && ! grep -q "skipped" "$kept/bisect.log"
check "the layout-change commit replays the older capture (good, no step skipped)" $?
grep -q "seeded regression" "$dir/out"; check "bisect prints the commit subject" $?
grep -q "^  device   pit" "$dir/out"; check "bisect prints the divergence report (device pit)" $?
[ -z "$(git status --porcelain --untracked-files=no)" ] && [ "$(git rev-parse HEAD)" = "$head_before" ] &&
    ! git bisect log >/dev/null 2>&1
check "the repository's working tree and HEAD are untouched" $?

# Refusals.
"$HVRR" bisect --good nosuchrev --bad HEAD "$trace" >"$dir/out" 2>"$dir/err"
[ $? -eq 1 ] && grep -q "not a commit" "$dir/err"; check "bad --good revision refused" $?
"$HVRR" bisect --good HEAD --bad "$base" "$trace" >"$dir/out" 2>"$dir/err"
[ $? -eq 1 ] && grep -q "not an ancestor" "$dir/err"; check "reversed range refused" $?
"$HVRR" bisect --good "$bad_commit" --bad HEAD "$trace" >"$dir/out" 2>"$dir/err"
[ $? -eq 1 ] && grep -q "already diverges" "$dir/err"; check "a good revision that diverges is refused" $?
mkdir -p "$dir/nogit" && (cd "$dir/nogit" && GIT_CEILING_DIRECTORIES=$dir "$HVRR" bisect --good a --bad b "$repo/$trace") >"$dir/out" 2>"$dir/err"
[ $? -eq 1 ] && grep -q "not inside a git repository" "$dir/err"; check "outside a repository refused" $?
"$HVRR" bisect --good HEAD "$trace" >"$dir/out" 2>"$dir/err"
[ $? -eq 2 ]; check "missing --bad is a usage error" $?

echo "bisect-test: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
