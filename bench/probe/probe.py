"""Count models with counters (or run checks) in one cell and stream one JSON line per event.

Runs unchanged under Python 2.7 and 3.6+ inside every cell's image:
    python probe.py --cell tf-2.5.3 --timeout 600 --jobs '[["seed", "count", "tf-profiler-seed"],
                                                           ["seed", "check", "equivalence"]]'
A count's name may be `<counter>@<variant>`: the counter called under a named variant's switches
(variants.py). The frameworks the jobs need are imported once; each job then runs in a forked child, so that a
job that crashes, hangs past --timeout or is killed for memory fails alone and leaves no state
behind for the next. Each line on stdout is one event:
    {"job": i, "event": "start"}
    {"job": i, "event": "done", "document": {...}}        (schema: catalog.COUNT_SCHEMA / CHECK_SCHEMA)
    {"job": i, "event": "failed", "reason": "...", "log_tail": "..."}
Exit 0 once every job has its event; exit 2 for a request it does not know; exit 3 when the host gives
no go-ahead for the next job (--go: the host is gone), so that no container outlives one job's budget. Frameworks print to
stdout too (thop's [INFO] lines, the TF profiler's tables): a job's stdout and stderr go to its
log, which is copied to stderr when the job ends.

A job speaks only for itself: its child holds no descriptor but its log (the event pipe is closed),
the probe's own descriptors are out of its reach (not dumpable; it is the container's first process,
with no `timeout` above it holding the pipe), and whatever it leaves running is killed before the
next job starts (the probe is their subreaper).
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time

import catalog
import installed
import usercode
import variants
import zoo

TAIL_CHARS = 4000
GO_WAIT_S = 60.0  # for the host's go-ahead before each job
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
_FREEZE = []  # pip freeze and the Debian packages, taken once per container


def _claim_stdout():
    """Point fd 1 at stderr for everyone else; return a descriptor for our JSON alone."""
    sys.stdout.flush()
    ours = os.dup(1)
    os.dup2(2, 1)
    return ours


def _guard():
    """Keep the jobs out of the probe: its /proc/<pid>/fd unreadable to them (not dumpable, which a fork
    keeps), and every process a job leaves behind reparented to the probe, which kills it (subreaper).
    Best effort: where prctl cannot be had, the descriptors are still closed in each job."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        pass


def _children():
    """The pids whose parent is the probe (jobs' leftovers, reparented to it as their subreaper)."""
    me, found = str(os.getpid()), []
    for name in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % name) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (IOError, OSError, IndexError):
            continue
        if fields[1] == me:
            found.append(int(name))
    return found


def _kill_strays():
    """Kill what the last job left running (a daemon that could write for the next job), and reap it."""
    for _ in range(100):
        strays = _children()
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass


def _out_of_time(_signum, _frame):
    """The whole probe's budget is spent: end it (as the container's first process, its end is the
    container's, and the kernel kills what is left)."""
    sys.stderr.write("probe: out of time (--budget): stopping\n")
    os._exit(137)


def _await_go(folder, index):
    """Whether the host said job `index` may start (a file it puts into the container) within GO_WAIT_S."""
    deadline = time.time() + GO_WAIT_S
    while not os.path.exists(os.path.join(folder, str(index))):
        if time.time() > deadline:
            return False
        time.sleep(0.02)
    return True


def _installed():
    if not _FREEZE:
        _FREEZE.append((installed.pip_freeze(), installed.debian_packages()))
    return _FREEZE[0]


def _provenance(answer):
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "framework": answer["framework"],
        "counter_tool": answer["tool"],
        "pip_freeze": _installed()[0],
        "debian_packages": _installed()[1],
    }


def _counter_function(counter):
    """The function the counter's catalog entry names, in its module of this folder."""
    entry = catalog.COUNTERS[counter]
    return getattr(__import__(entry.module), entry.function)


def _watch_torch_switches(seen):
    """Record, at the first module the counter runs, the switches that change what PyTorch runs (grad
    mode, train or eval, device, dtype, the oneDNN kernels). None where this torch has no global hook."""
    import torch

    register = getattr(torch.nn.modules.module, "register_module_forward_pre_hook", None)
    if register is None:
        return None

    def hook(module, inputs):
        # at the first leaf module: a tool's own wrapper (torch.jit's tracing module, say) has children
        if not seen and not list(module.children()):
            tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
            seen.update({
                "grad_enabled": torch.is_grad_enabled(),
                "inference_mode": bool(getattr(torch, "is_inference_mode_enabled", lambda: False)()),
                "tensor_type": type(tensors[0]).__name__ if tensors else "",
                "sdpa_backends": _sdpa_backends(torch),
                "training": module.training,
                "device": str(tensors[0].device) if tensors else "",
                "dtype": str(tensors[0].dtype) if tensors else "",
                "mkldnn_enabled": torch.backends.mkldnn.enabled,
                "threads": torch.get_num_threads(),
            })

    return register(hook)


def _peak_rss_kib():
    """The job's peak resident memory so far (its forked process; Linux reports KiB)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _sdpa_backends(torch):
    """The scaled_dot_product_attention kernels enabled (sdpa_kernel sets these flags), where torch has them."""
    flags = (("flash", "flash_sdp_enabled"), ("efficient", "mem_efficient_sdp_enabled"), ("math", "math_sdp_enabled"))
    return [name for name, flag in flags if getattr(torch.backends.cuda, flag, lambda: False)()]


def measure(cell, model, job):
    counter, variant = variants.split(job)
    entry = catalog.COUNTERS[counter]
    started = time.time()
    switches = {}
    handle = _watch_torch_switches(switches) if entry.framework == "torch" else None
    try:
        with variants.applied(variant):
            answer = _counter_function(counter)(model)
    finally:
        if handle is not None:
            handle.remove()
    raw_total = answer["raw_total"]
    provenance = _provenance(answer)
    provenance["peak_rss_kib"] = _peak_rss_kib()
    if handle is not None:
        provenance["switches"] = switches
    if variant:
        provenance["variant"] = {"name": variant, "switches": variants.VARIANTS[variant]["switches"]}
    return {
        "schema": catalog.COUNT_SCHEMA,
        "cell": cell,
        "model": model,
        "counter": job,
        "recipe": entry.recipe + (" [%s: %s]" % (variant, variants.VARIANTS[variant]["summary"]) if variant else ""),
        "unit": entry.unit,
        "flops_per_unit": entry.flops_per_unit,
        "raw_total": raw_total,
        "flops": raw_total * entry.flops_per_unit,
        "definition": zoo.MODELS[model],
        "definition_sha256": zoo.fingerprint(zoo.MODELS[model]),
        "breakdown": {"by": entry.breakdown, "items": answer["items"]},
        "nodes": answer["nodes"],
        "layers": answer["layers"],
        "unsupported": answer["unsupported"],
        "notes": answer["notes"],
        "duration_s": round(time.time() - started, 3),
        "provenance": provenance,
    }


def check(cell, model, name):
    import equivalence

    started = time.time()
    answer = equivalence.CHECKS[name](model)
    return {
        "schema": catalog.CHECK_SCHEMA,
        "cell": cell,
        "model": model,
        "check": name,
        "recipe": catalog.CHECKS[name],
        "holds": all(c["holds"] for c in answer["comparisons"]),
        "result": dict((k, v) for k, v in answer.items() if k not in ("framework", "tool")),
        "duration_s": round(time.time() - started, 3),
        "provenance": _provenance(answer),
    }


def _refuse(what, name, known):
    sys.stderr.write("probe: unknown %s %r (known: %s)\n" % (what, name, ", ".join(sorted(known))))
    return 2


def _unknown(jobs):
    """The first part of a request the probe does not know, as _refuse's arguments."""
    for model, kind, name in jobs:
        if model not in catalog.MODELS:
            return "model", model, catalog.MODELS
        if kind == "count" and variants.unknown(name, catalog.COUNTERS):
            return variants.unknown(name, catalog.COUNTERS)
        if kind != "count" and name not in catalog.CHECKS:
            return "check", name, catalog.CHECKS
    return None


def _preload(jobs):
    """Import each framework (and each tool its catalog entry preloads) the jobs need once, before any child is forked."""
    modules = set()
    for _model, kind, name in jobs:
        if kind == "check":
            modules.update(catalog.CHECK_FRAMEWORKS.get(name, []))
        else:
            counter = variants.split(name)[0]
            modules.add(catalog.COUNTERS[counter].framework)
            modules.update(catalog.COUNTERS[counter].preload)
    for module in sorted(modules):
        try:
            __import__(module)
        except ImportError:
            pass  # the job that needs it fails with the import error, alone
    _installed()


def _child(cell, job, out_path, log_path):
    """Runs in the forked child: the job's document to out_path, everything it prints to log_path."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, _max_fd())  # the event pipe among them: a job's code must not reach it
    code = 0
    try:
        model, kind, name = job
        document = measure(cell, model, name) if kind == "count" else check(cell, model, name)
        with open(out_path, "w") as handle:
            handle.write(json.dumps(document, sort_keys=True))
    except BaseException:  # noqa: B036 - the child must report anything and never return
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _max_fd():
    try:
        import resource

        return min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1 << 16)
    except (ImportError, ValueError):
        return 1 << 16


def _tail(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()[-TAIL_CHARS:].decode("utf-8", "replace")
    except (IOError, OSError):
        return ""


def _last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _run_job(cell, job, timeout_s, index):
    """Fork, wait with a deadline, and return the job's event (in a folder of its own, made after the last
    job's leftovers were killed, so that none of them can have written there)."""
    scratch = tempfile.mkdtemp(prefix="probe-%d-" % index)
    out_path = os.path.join(scratch, "%d.json" % index)
    log_path = os.path.join(scratch, "%d.log" % index)
    pid = os.fork()
    if pid == 0:
        _child(cell, job, out_path, log_path)
    deadline = time.time() + timeout_s
    reason = ""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            reason = "timed out after %g s" % timeout_s
            break
        time.sleep(0.02)
    _kill_strays()
    tail = _tail(log_path)
    sys.stderr.write(tail)
    sys.stderr.flush()
    if not reason:
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            reason = "killed by signal %d" % number
            if number == signal.SIGKILL:
                reason += " (the container's memory limit, or a kill from outside)"
        elif os.WEXITSTATUS(status) != 0:
            reason = "exited with code %d" % os.WEXITSTATUS(status)
        else:
            try:
                with open(out_path) as handle:
                    return {"job": index, "event": "done", "document": json.loads(handle.read())}
            except (IOError, OSError, ValueError) as error:
                reason = "wrote no readable document (%s)" % error
        last = _last_line(tail)
        reason = "probe " + reason + (": " + last if last and "signal" not in reason else "")
    else:
        reason = "probe " + reason
    return {"job": index, "event": "failed", "reason": reason, "log_tail": tail}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", required=True)
    parser.add_argument("--jobs", required=True, help="JSON list of [model, 'count' or 'check', name]")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds each job may take")
    parser.add_argument("--models-file", help="JSON: name -> definition, for models the zoo lacks (usercode.py)")
    parser.add_argument("--go", help="folder where the host puts a file named after each job it lets start")
    parser.add_argument("--budget", type=int, help="seconds the whole probe may take (it ends itself then)")
    args = parser.parse_args(argv)
    if args.models_file:
        usercode.register(args.models_file, zoo.MODELS, catalog.MODELS)
    jobs = [tuple(job) for job in json.loads(args.jobs)]
    unknown = _unknown(jobs)
    if unknown:
        return _refuse(*unknown)
    out = _claim_stdout()
    _guard()
    if args.budget:
        signal.signal(signal.SIGALRM, _out_of_time)
        signal.alarm(args.budget)

    def emit(event):
        os.write(out, (json.dumps(event, sort_keys=True) + "\n").encode("utf-8"))

    _preload(jobs)
    for index, job in enumerate(jobs):
        if args.go and not _await_go(args.go, index):
            sys.stderr.write("probe: no go-ahead for job %d from the host within %g s: stopping\n" % (index, GO_WAIT_S))
            return 3
        emit({"job": index, "event": "start"})
        emit(_run_job(args.cell, job, args.timeout, index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
