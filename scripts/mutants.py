#!/usr/bin/env python3
"""Mutation testing of hv/devs and the VM-level exit policy (docs/mutants.md).

A mutant is one file tests/mutants/NAME.mut:

    # What it breaks: the datasheet / SDM rule, in a comment block.
    # An equivalent mutant argues here why no behaviour changes.
    file: hv/devs/pit8254.c
    equivalent: yes            (optional; only for equivalent mutants)
    @@ find
    exact text, one or more lines, found exactly once in the file
    @@ replace
    the replacement text
    @@ end

Commands:
  list [PATTERN]             names of the mutants (PATTERN: shell glob on the name)
  source MUT                 the mutated target file on stdout
  apply MUT ROOT             writes the mutated target file under ROOT
  devs-object MUT OUT CC FLAGS...
                             hv/devs with the mutant applied, compiled into one object
                             whose global symbols carry the prefix mut_<name>_ (name with
                             '-' as '_'); its vm_devices_ops is mut_<name>_mutant_ops
  check [PATTERN]            every mutant applies exactly once and compiles (syntax + types)
  run [--jobs N] [PATTERN]   applies each mutant in a scratch tree, runs the suites, reports
"""
import fnmatch
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MUT_DIR = os.path.join(TOP, "tests", "mutants")


class MutantError(Exception):
    pass


class Mutant:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[: -len(".mut")]
        self.comment = []
        self.file = None
        self.equivalent = False
        self.find = None
        self.replace = None
        self._parse()

    def _parse(self):
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        section, buf = None, []
        for ln in lines:
            if ln.startswith("@@ "):
                tag = ln[3:].strip()
                if section == "find":
                    self.find = "\n".join(buf)
                elif section == "replace":
                    self.replace = "\n".join(buf)
                buf = []
                if tag == "end":
                    section = "end"
                    continue
                if tag not in ("find", "replace"):
                    raise MutantError(f"{self.path}: unknown section '@@ {tag}'")
                section = tag
                continue
            if section in ("find", "replace"):
                buf.append(ln)
            elif section is None:
                if ln.startswith("#"):
                    self.comment.append(ln[1:].strip())
                elif ln.startswith("file:"):
                    self.file = ln[5:].strip()
                elif ln.startswith("equivalent:"):
                    self.equivalent = ln[11:].strip() == "yes"
                elif ln.strip():
                    raise MutantError(f"{self.path}: unexpected line '{ln}'")
        if section != "end" or self.find is None or self.replace is None:
            raise MutantError(f"{self.path}: needs '@@ find', '@@ replace', '@@ end'")
        if not self.file:
            raise MutantError(f"{self.path}: no 'file:' line")
        if not self.find.strip():
            raise MutantError(f"{self.path}: empty find text")
        if self.find == self.replace:
            raise MutantError(f"{self.path}: the replacement changes nothing")
        if not any(c for c in self.comment if c):
            raise MutantError(f"{self.path}: no comment naming the behaviour it breaks")
        if self.equivalent and not any("equivalent" in c.lower() for c in self.comment):
            raise MutantError(f"{self.path}: equivalent, but the comment does not argue it")

    def title(self):
        text = " ".join(c for c in self.comment if c)
        end = re.search(r"\.\s+(?=[A-Z(])", text)
        text = text if not end else text[: end.start() + 1]
        return text if len(text) <= 110 else text[:107] + "..."

    def mutated(self, root):
        path = os.path.join(root, self.file)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise MutantError(f"{self.name}: {self.file}: {e.strerror}")
        n = text.count(self.find)
        if n != 1:
            raise MutantError(
                f"{self.name}: the find text occurs {n} times in {self.file} (must be exactly once)"
            )
        return text, text.replace(self.find, self.replace)


def load(pattern=None):
    names = sorted(f for f in os.listdir(MUT_DIR) if f.endswith(".mut"))
    muts = [Mutant(os.path.join(MUT_DIR, f)) for f in names]
    if pattern:
        pats = pattern.split(",")
        muts = [m for m in muts if any(fnmatch.fnmatch(m.name, p) for p in pats)]
    return muts


def by_name(arg):
    path = arg if arg.endswith(".mut") else os.path.join(MUT_DIR, arg + ".mut")
    return Mutant(path)


# ---- devs-object -----------------------------------------------------------

OPS_C = """/* generated by scripts/mutants.py devs-object */
#include "host-sim/replay.h"
const struct vm_devices_ops mutant_ops = {
    vm_devices_init, vm_devices_restore, vm_devices_save, vm_devices_advance,
    vm_devices_io,   vm_devices_ack,     vm_devices_com1_rx, vm_devices_intr,
    vm_devices_sync, vm_devices_mmio, vm_devices_msr,
    vm_devices_intr_cpu, vm_devices_ack_cpu, vm_devices_mmio_cpu, vm_devices_msr_cpu,
    vm_devices_cpu_events, vm_devices_cpu_events_take, vm_devices_sipi_vector,
};
"""


def ident(name):
    return name.replace("-", "_")


def cmd_devs_object(name, out, cc_args):
    """A mutated copy of hv/devs beside the real one: every .c of hv/devs
    (the mutant's target mutated) plus an ops table, linked with ld -r and
    every defined global renamed mut_<name>_*."""
    m = by_name(name)
    if not m.file.startswith("hv/devs/"):
        raise MutantError(f"{m.name}: devs-object needs a mutant of hv/devs ({m.file})")
    work = out[:-2] + ".work"
    os.makedirs(os.path.join(work, "hv", "devs"), exist_ok=True)
    srcs = sorted(f for f in os.listdir(os.path.join(TOP, "hv", "devs")) if f.endswith(".c"))
    objs = []
    for f in srcs + ["mutant_ops.c"]:
        rel = os.path.join("hv", "devs", f)
        if f == "mutant_ops.c":
            text = OPS_C
        elif rel == m.file:
            text = m.mutated(TOP)[1]
        else:
            with open(os.path.join(TOP, rel), encoding="utf-8") as fh:
                text = fh.read()
        src = os.path.join(work, rel)
        with open(src, "w", encoding="utf-8") as fh:
            fh.write(text)
        obj = src[:-2] + ".o"
        subprocess.run(cc_args + ["-iquote", os.path.join(TOP, "hv", "devs"), "-c", src, "-o", obj],
                       check=True)
        objs.append(obj)
    whole = os.path.join(work, "all.o")
    subprocess.run([os.environ.get("LD", "ld"), "-r", "-o", whole] + objs, check=True)
    nm = subprocess.run(["nm", "-g", "--defined-only", whole], stdout=subprocess.PIPE,
                        check=True).stdout.decode()
    pfx = "mut_" + ident(m.name) + "_"
    syms = [ln.split()[-1] for ln in nm.splitlines() if ln.strip()]
    mapf = os.path.join(work, "syms.map")
    with open(mapf, "w") as fh:
        for s in syms:
            fh.write(f"{s} {pfx}{s}\n")
    subprocess.run(["objcopy", "--redefine-syms=" + mapf, whole, out], check=True)
    return 0


# ---- check -----------------------------------------------------------------

CHECK_FLAGS = ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-D_GNU_SOURCE"]


def compile_check(m, text, cc):
    """Compiles the mutated text as if it were the target file."""
    inc = ["-I" + TOP, "-I" + os.path.join(TOP, os.environ.get("BUILD", "build"), "gen"),
           "-iquote", os.path.join(TOP, os.path.dirname(m.file))]
    flags = list(CHECK_FLAGS)
    if m.file == "hv/vm.c" or m.file.startswith("hv/vmx/"):
        flags += ["-ffreestanding", "-DHVRR_FREESTANDING", "-mno-red-zone", "-mgeneral-regs-only"]
    p = subprocess.run([cc] + flags + inc + ["-x", "c", "-"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode(errors="replace")


def cmd_check(pattern):
    cc = os.environ.get("CC", "gcc")
    try:
        muts = load(pattern)
    except MutantError as e:
        print(f"mutants-check: {e}")
        return 1
    bad = 0
    names = set()
    for m in muts:
        try:
            orig, text = m.mutated(TOP)
        except MutantError as e:
            print(f"mutants-check: {e}")
            bad += 1
            continue
        rc, out = compile_check(m, text, cc)
        if rc:
            print(f"mutants-check: {m.name}: does not compile:\n{out}")
            bad += 1
        names.add(m.name)
    n_eq = sum(1 for m in muts if m.equivalent)
    files = sorted({m.file for m in muts})
    print(f"mutants-check: {len(muts)} mutants ({n_eq} equivalent) over {len(files)} files: "
          + ("all apply exactly once and compile" if not bad else f"{bad} FAILED"))
    return 1 if bad else 0


# ---- run -------------------------------------------------------------------

SUITES = ["unit", "corpus", "soak", "scenario"]
SUITE_TITLE = {"unit": "make unit", "corpus": "replay-corpus", "soak": "devs-soak",
               "scenario": "scenario"}
# The scripted guests of `make corpus` (host-sim/scenario.c), re-recorded.
SCENARIOS = ["linux-boot", "linux-boot-quiet", "serial-shell", "io-guest"]


def tracked_files():
    out = subprocess.run(["git", "-C", TOP, "ls-files", "-z"], stdout=subprocess.PIPE,
                         check=True).stdout
    return [f for f in out.decode().split("\0") if f]


def sync_tree(dst):
    """Makes dst's tracked files equal to the working tree's. A file that
    differs (changed since the last run, or left mutated by an interrupted
    one) is rewritten with the current time, so make rebuilds from it."""
    for f in tracked_files():
        s, d = os.path.join(TOP, f), os.path.join(dst, f)
        try:
            with open(s, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            continue
        try:
            with open(d, "rb") as fh:
                if fh.read() == data:
                    continue
        except FileNotFoundError:
            os.makedirs(os.path.dirname(d), exist_ok=True)
        with open(d, "wb") as fh:
            fh.write(data)
        shutil.copymode(s, d)


class Worker:
    def __init__(self, base, idx, opts):
        self.root = os.path.join(base, f"w{idx}")
        self.opts = opts
        self.build = "build"
        os.makedirs(self.root, exist_ok=True)

    def targets(self):
        tests = sorted(f[:-2] for f in os.listdir(os.path.join(self.root, "tests"))
                       if f.startswith("test_") and f.endswith(".c"))
        self.unit_bins = [f"{self.build}/host/tests/{t}" for t in tests]
        return self.unit_bins + [f"{self.build}/hvrr", f"{self.build}/host/tests/fuzz_devices",
                                 f"{self.build}/hvrr-scenario"]

    def make(self, log, targets=None):
        # The self-check mutant objects (build/host/mutants/*.o) are copies of
        # hv/devs: built once from the unmutated tree, never remade here.
        mdir = os.path.join(self.root, self.build, "host", "mutants")
        old = [f"-o{self.build}/host/mutants/{f}" for f in
               (sorted(os.listdir(mdir)) if os.path.isdir(mdir) else []) if f.endswith(".o")]
        if targets is None:
            targets = self.targets()
        cmd = ["make", "-s", f"-j{self.opts['make_jobs']}", f"BUILD={self.build}"] + old + targets
        with open(log, "w") as f:
            return subprocess.run(cmd, cwd=self.root, stdout=f, stderr=subprocess.STDOUT).returncode

    def prepare(self):
        # A run that was interrupted may have left a mutated object behind
        # (restored sources keep their old times): rebuild the objects of
        # every file a mutant targets.
        self.marker = os.path.join(self.root, "RUNNING")
        if os.path.exists(self.marker):
            for f in self.opts["targets"]:
                for o in self.objects(f):
                    if os.path.exists(o):
                        os.unlink(o)
        with open(self.marker, "w") as fh:
            fh.write("a mutants run uses this tree\n")
        sync_tree(self.root)
        log = os.path.join(self.root, "prebuild.log")
        if self.make(log):
            raise MutantError(f"scratch tree {self.root}: the unmutated build fails, see {log}")
        self.pristine = {}
        # The scripted guests recorded through the unmutated tree: the
        # scenario suite compares the mutant's recordings with these.
        self.scenario_ref = {}
        for sc in SCENARIOS:
            rc, out = self.scenario(sc)
            if rc:
                raise MutantError(f"scratch tree {self.root}: scenario {sc} fails unmutated: {out}")
            self.scenario_ref[sc] = out

    def scenario(self, name):
        path = os.path.join(self.root, self.build, "tmp", "scenario.hvt")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        rc, out = self.timed([os.path.join(self.root, self.build, "hvrr-scenario"), name, "-o", path],
                             self.root, self.opts["timeout"])
        if rc:
            return rc, out
        with open(path, "rb") as fh:
            return 0, fh.read()

    def objects(self, src):
        o = src[:-2] + ".o"
        return [os.path.join(self.root, self.build, v, o) for v in ("host", "rel")]

    def save_pristine(self, src):
        if src in self.pristine:
            return
        path = os.path.join(self.root, src)
        st = os.stat(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        objs = {}
        for o in self.objects(src):
            if os.path.exists(o):
                with open(o, "rb") as f:
                    objs[o] = f.read()
        self.pristine[src] = (text, st.st_mtime_ns, objs)

    def restore(self, src):
        text, mtime, objs = self.pristine[src]
        path = os.path.join(self.root, src)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.utime(path, ns=(mtime, mtime))
        for o, data in objs.items():  # newer than the source again: not recompiled
            with open(o, "wb") as f:
                f.write(data)

    def timed(self, cmd, cwd, timeout):
        try:
            p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
                                                         UBSAN_OPTIONS="print_stacktrace=1"))
            return p.returncode, p.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired:
            return -999, f"timeout after {timeout} s"

    def need(self, targets):
        """Builds what a suite runs (after a mutation, only on demand: most
        mutants die in their own device's test and need no other link)."""
        if self.make(os.path.join(self.root, "build.log"), targets):
            raise MutantError("does not build")

    def suite_unit(self, m):
        # The tests of the mutated file first: most mutants die there.
        stem = os.path.basename(m.file)[:-2]
        bins = sorted(self.unit_bins, key=lambda b: (stem not in b, b))
        first = [b for b in bins if stem in b]
        for group in (first, [b for b in bins if b not in first]):
            if not group:
                continue
            self.need(group)
            for b in group:
                rc, out = self.timed([os.path.join(self.root, b)], self.root, self.opts["timeout"])
                if rc:
                    return f"{os.path.basename(b)}" + (" (timeout)" if rc == -999 else "")
        return None

    def suite_corpus(self, m):
        self.need([f"{self.build}/hvrr"])
        traces = sorted((os.path.join("corpus", f) for f in os.listdir(os.path.join(self.root, "corpus"))
                         if f.endswith(".hvt")),
                        key=lambda t: os.path.getsize(os.path.join(self.root, t)))
        for t in traces:
            rc, out = self.timed([os.path.join(self.root, self.build, "hvrr"), "replay",
                                  "--stop-at-first", t], self.root, self.opts["timeout"])
            if rc:
                return os.path.basename(t) + (" (timeout)" if rc == -999 else "")
        return None

    def suite_soak(self, m):
        self.need([f"{self.build}/host/tests/fuzz_devices"])
        tmp = os.path.join(self.root, self.build, "tmp")
        os.makedirs(tmp, exist_ok=True)
        rc, out = self.timed([os.path.join(self.root, self.build, "host/tests/fuzz_devices"),
                              str(self.opts["soak_n"]), "1"], tmp, self.opts["timeout"])
        if rc:
            last = [ln for ln in out.splitlines() if ln.startswith("fuzz_devices:")]
            return (last[0][len("fuzz_devices: "):] if last else f"exit {rc}")[:100]
        return None

    def suite_scenario(self, m):
        self.need([f"{self.build}/hvrr-scenario"])
        for sc in SCENARIOS:
            rc, data = self.scenario(sc)
            if rc:
                return f"{sc} fails" + (" (timeout)" if rc == -999 else "")
            if data != self.scenario_ref[sc]:
                return f"{sc} recorded differently"
        return None

    def run(self, m):
        t0 = time.time()
        res = {"name": m.name, "equivalent": m.equivalent}
        self.save_pristine(m.file)
        try:
            _, text = m.mutated(self.root)
        except MutantError as e:
            res["error"] = str(e)
            return res
        path = os.path.join(self.root, m.file)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            self.need([f"{self.build}/host/libhvrr.a", f"{self.build}/rel/libhvrr.a"])
            for s in SUITES:
                res[s] = getattr(self, "suite_" + s)(m)
        except MutantError as e:
            res["error"] = str(e)
        finally:
            self.restore(m.file)
            res["seconds"] = time.time() - t0
        return res


def fmt_rate(k, n):
    return f"{k}/{n} = {100.0 * k / n:.1f} %" if n else "0/0"


def report(results, muts, elapsed, out):
    byname = {m.name: m for m in muts}
    lines = []
    w = max(len(r["name"]) for r in results)
    lines.append(f"{'mutant':<{w}}  " + " ".join(f"{s:<8}" for s in SUITES))
    for r in sorted(results, key=lambda r: r["name"]):
        if "error" in r:
            lines.append(f"{r['name']:<{w}}  ERROR: {r['error']}")
            continue
        cells = ["killed" if r[s] else "survived" for s in SUITES]
        eq = "  (equivalent)" if r["equivalent"] else ""
        lines.append(f"{r['name']:<{w}}  " + " ".join(f"{c:<8}" for c in cells) + eq)
    ok = [r for r in results if "error" not in r]
    real = [r for r in ok if not r["equivalent"]]
    lines.append("")
    lines.append(f"{len(results)} mutants run ({len(real)} non-equivalent, "
                 f"{len(ok) - len(real)} equivalent, {len(results) - len(ok)} errors) in {elapsed:.0f} s")
    groups = [("all", real),
              ("hv/devs", [r for r in real if byname[r["name"]].file.startswith("hv/devs/")]),
              ("exit policy", [r for r in real if not byname[r["name"]].file.startswith("hv/devs/")])]
    groups = [g for g in groups if g[1]]
    lines.append("kill rates over the non-equivalent mutants:")
    lines.append(f"  {'suite':<14} " + " ".join(f"{g[0] + f' ({len(g[1])})':<22}" for g in groups))
    for s in SUITES + ["all suites"]:
        cells = []
        for _, rs in groups:
            k = sum(1 for r in rs if (any(r[x] for x in SUITES) if s == "all suites" else r[s]))
            cells.append(f"{fmt_rate(k, len(rs)):<22}")
        lines.append(f"  {SUITE_TITLE.get(s, s):<14} " + " ".join(cells))
    surv = [r for r in real if not any(r[s] for s in SUITES)]
    if surv:
        lines.append("survivors (no suite kills them):")
        for r in surv:
            lines.append(f"  {r['name']}: {byname[r['name']].title()}")
    corpus_surv = [r for r in real if not r["corpus"] and any(r[s] for s in SUITES)]
    if corpus_surv:
        lines.append("not killed by the corpus replay (killed by another suite):")
        for r in corpus_surv:
            lines.append(f"  {r['name']}: {byname[r['name']].title()}")
    eq_killed = [r for r in ok if r["equivalent"] and any(r[s] for s in SUITES)]
    for r in eq_killed:
        lines.append(f"WARNING: {r['name']} is marked equivalent but is killed: the argument is wrong")
    lines.append("kills (first failing test program / trace / soak failure):")
    for r in sorted(ok, key=lambda r: r["name"]):
        kills = [f"{s}: {r[s]}" for s in SUITES if r[s]]
        if kills:
            lines.append(f"  {r['name']}: " + "; ".join(kills))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(out, "w") as f:
        f.write(text)


def cmd_run(args):
    jobs, pattern = 1, None
    opts = {"make_jobs": 2, "timeout": 300, "soak_n": int(os.environ.get("MUTANTS_SOAK_N", "200"))}
    i = 0
    while i < len(args):
        if args[i] in ("-j", "--jobs"):
            jobs = int(args[i + 1])
            i += 2
        elif args[i].startswith("-j"):
            jobs = int(args[i][2:])
            i += 1
        else:  # MUTANTS="a b" arrives as two arguments: both select
            pattern = args[i] if pattern is None else pattern + "," + args[i]
            i += 1
    if jobs < 1:
        jobs = 1
    opts["make_jobs"] = 1 if jobs > 1 else 2
    opts["targets"] = sorted({m.file for m in load()})
    muts = load(pattern)
    if not muts:
        print("mutants: no mutant matches")
        return 1
    base = os.path.join(os.path.abspath(os.environ.get("BUILD", os.path.join(TOP, "build"))), "mutants")
    os.makedirs(base, exist_ok=True)
    t0 = time.time()
    workers = [Worker(base, k, opts) for k in range(min(jobs, len(muts)))]
    print(f"mutants: {len(muts)} mutants, {len(workers)} scratch tree(s) under {base}", flush=True)
    for w in workers:
        w.prepare()
    print(f"mutants: scratch trees built in {time.time() - t0:.0f} s", flush=True)
    q = queue.Queue()
    for m in muts:
        q.put(m)
    results, lock = [], threading.Lock()

    def loop(w):
        while True:
            try:
                m = q.get_nowait()
            except queue.Empty:
                return
            r = w.run(m)
            with lock:
                results.append(r)
                if "error" in r:
                    status = "ERROR " + r["error"]
                else:
                    status = " ".join(f"{s}:{'K' if r[s] else 'S'}" for s in SUITES)
                print(f"[{len(results)}/{len(muts)}] {m.name}: {status} ({r['seconds']:.0f} s)",
                      flush=True)

    th = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
    for t in th:
        t.start()
    try:
        for t in th:
            while t.is_alive():
                t.join(1)
    except KeyboardInterrupt:
        print("mutants: interrupted (the next run rebuilds what a mutant may have left)")
        return 130
    for w in workers:
        os.unlink(w.marker)
    report(results, muts, time.time() - t0, os.path.join(base, "report.txt"))
    return 1 if any("error" in r for r in results) else 0


def on_term(signum, frame):
    raise KeyboardInterrupt  # unwinds through the workers' restore


def main(argv):
    signal.signal(signal.SIGTERM, on_term)
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    cmd, rest = argv[1], argv[2:]
    try:
        if cmd == "list":
            for m in load(rest[0] if rest else None):
                print(f"{m.name}\t{m.file}\t{'equivalent' if m.equivalent else ''}\t{m.title()}")
            return 0
        if cmd == "source":
            sys.stdout.write(by_name(rest[0]).mutated(TOP)[1])
            return 0
        if cmd == "apply":
            m = by_name(rest[0])
            _, text = m.mutated(rest[1])
            with open(os.path.join(rest[1], m.file), "w", encoding="utf-8") as f:
                f.write(text)
            return 0
        if cmd == "devs-object":
            return cmd_devs_object(rest[0], rest[1], rest[2:])
        if cmd == "check":
            return cmd_check(rest[0] if rest else None)
        if cmd == "run":
            return cmd_run(rest)
    except MutantError as e:
        print(f"mutants: {e}", file=sys.stderr)
        return 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
