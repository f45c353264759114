#!/usr/bin/env python3
"""Compares examples/c/smi-decide with `smi eval` on the shared conformance cases.

usage: compare_eval.py SMI SMI_DECIDE EXTRA_REQUESTS CASE_DIR...

For each case folder (policy.yaml, policy.json or policy/, and cases.jsonl) it builds one request
file: every "request" line of cases.jsonl (a "samples" request becomes a fixed set of entropies),
then every line of EXTRA_REQUESTS (hostile and unusual lines, the same for every case). It runs
`SMI eval --policy POLICY --requests FILE` and `SMI_DECIDE POLICY < FILE` and compares the answers
line by line as JSON objects: key order does not matter, and two {"error": ...} answers are equal
whatever their texts. A "compile" line expects both programs to fail (exit status 1, nothing on
standard output) and both to name the same policy line. Prints one line per case and
`N passed, N failed`; exits 1 on any difference.
"""
import json
import os
import subprocess
import sys
import tempfile

# Fixed entropies for "samples" lines: the edges and a spread over the 64-bit range.
ENTROPIES = [0, 1, 2, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1] + [
    (i * 0x9E3779B97F4A7C15) % 2**64 for i in range(1, 24)
]


def policy_path(case_dir):
    for name in ("policy.yaml", "policy.json", "policy"):
        p = os.path.join(case_dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{case_dir}: no policy")


def request_lines(case_dir, extra_lines):
    """The request lines to send (raw text), and the policy lines named by "compile" cases."""
    lines, compile_lines = [], []
    with open(os.path.join(case_dir, "cases.jsonl"), encoding="utf-8") as f:
        for text in f:
            if not text.strip():
                continue
            case = json.loads(text)
            if "compile" in case:
                compile_lines.append(case["compile"].get("line"))
                continue
            request = dict(case["request"])
            samples = request.pop("samples", None)
            if samples:
                for entropy in ENTROPIES:
                    r = dict(request)
                    r["entropy"] = entropy
                    lines.append(json.dumps(r).encode())
            else:
                lines.append(json.dumps(request).encode())
    # A case of compile lines only has a policy that must not compile: no requests for it.
    return (lines + extra_lines if lines else []), compile_lines


def normalize(line):
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return ("not JSON", line)
    if isinstance(value, dict) and "error" in value:
        return {"error": "..."}
    return value


def run(argv, stdin_path):
    with open(stdin_path, "rb") as stdin:
        return subprocess.run(argv, stdin=stdin, capture_output=True, timeout=600)


def compare_case(smi, decide, case_dir, extra_lines):
    policy = policy_path(case_dir)
    lines, compile_lines = request_lines(case_dir, extra_lines)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty.jsonl")
        open(empty, "w").close()
        for line in compile_lines:
            a = run([smi, "eval", "--policy", policy, "--requests", empty], empty)
            b = run([decide, policy], empty)
            if a.returncode != 1 or b.returncode != 1:
                problems.append(f"compile: exit statuses smi {a.returncode}, smi-decide {b.returncode}; expected 1 and 1")
            if a.stdout or b.stdout:
                problems.append("compile: something was printed on standard output")
            if line is not None:
                for name, p in (("smi", a), ("smi-decide", b)):
                    if f":{line}:".encode() not in p.stderr:
                        problems.append(f"compile: {name} names no error at line {line}: {p.stderr[:300]!r}")
        if not lines:
            return problems, -len(compile_lines)
        requests = os.path.join(tmp, "requests.jsonl")
        with open(requests, "wb") as f:
            for line in lines:
                f.write(line + b"\n")
        a = run([smi, "eval", "--policy", policy, "--requests", requests], requests)
        b = run([decide, policy], requests)
    if a.returncode != 0 or b.returncode != 0:
        return problems + [f"exit statuses smi {a.returncode}, smi-decide {b.returncode}: "
                           f"{a.stderr[:300]!r} / {b.stderr[:300]!r}"], 0
    out_a = a.stdout.decode("utf-8", "replace").splitlines()
    out_b = b.stdout.decode("utf-8", "replace").splitlines()
    if len(out_a) != len(out_b):
        problems.append(f"{len(out_a)} answers from smi, {len(out_b)} from smi-decide")
    compared = 0
    for n, (x, y) in enumerate(zip(out_a, out_b), 1):
        compared += 1
        if normalize(x) != normalize(y):
            problems.append(f"answer {n} differs:\n       request:    {lines[n - 1][:200]!r}\n"
                            f"       smi:        {x[:200]}\n       smi-decide: {y[:200]}")
    return problems, compared


def main():
    if len(sys.argv) < 5:
        print(__doc__)
        return 2
    smi, decide, extra = sys.argv[1], sys.argv[2], sys.argv[3]
    # Raw bytes: some lines are deliberately not valid UTF-8. Lines starting with # are comments.
    with open(extra, "rb") as f:
        extra_lines = [l.rstrip(b"\n") for l in f if l.strip() and not l.startswith(b"#")]
    passed = failed = total = 0
    for case_dir in sys.argv[4:]:
        problems, compared = compare_case(smi, decide, case_dir, extra_lines)
        total += max(compared, 0)
        name = os.path.basename(case_dir.rstrip("/"))
        if problems:
            failed += 1
            print(f"FAIL {name}")
            for p in problems[:20]:
                print(f"     {p}")
        else:
            passed += 1
            what = f"{compared} answers identical" if compared >= 0 else "both refuse to compile, at the same line"
            print(f"ok   {name} ({what})")
    print(f"{total} answers compared; {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
