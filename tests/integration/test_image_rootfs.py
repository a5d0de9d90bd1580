#!/usr/bin/env python3
"""Assembles the Dockerfile's runtime stage as a folder, for test_image.sh (no Docker engine).

Usage: test_image_rootfs.py DOCKERFILE SOURCE_DIR BINARY ROOT

Reads the last stage of DOCKERFILE: the packages its apt-get installs, its COPY lines, USER,
ENV, EXPOSE, STOPSIGNAL, ENTRYPOINT. Into ROOT it copies the binary, the copied folders and
exactly the shared libraries `ldd` lists for the binary (plus the CA bundle when
ca-certificates is installed), and checks that every one of those libraries belongs to a
package the stage installs or to Debian's required base (what debian:bookworm-slim holds),
counting dependencies. Prints the stage's settings as shell assignments; exits 1 naming a
library no listed package provides.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys


def stages(path):
    """Instructions per stage: a list of lists of (keyword, argument text)."""
    text = open(path).read().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            out.append([])
        out[-1].append((word, rest.strip()))
    return out


def installed():
    """Package -> set of dependency names (Depends + Pre-Depends, every alternative), and the
    base: packages marked Essential or of Priority required. (The priority dpkg records is the
    one in the package's own control file, which can differ from the archive's: apt is
    "important" in some installations and "required" in others.)"""
    fmt = "${Package}\t${Priority}\t${Essential}\t${Depends}, ${Pre-Depends}\n"
    rows = subprocess.run(["dpkg-query", "-W", "-f=" + fmt], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    deps, required = {}, []
    for row in rows:
        pkg, prio, essential, dep = row.split("\t")
        names = set()
        for alt in re.split(r"[,|]", dep):
            name = re.sub(r"\(.*?\)|:any|:\w+$", "", alt).strip()
            if name:
                names.add(name)
        deps[pkg] = names
        if prio == "required" or essential == "yes":
            required.append(pkg)
    return deps, required


def closure(roots, deps):
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen or p not in deps:
            continue
        seen.add(p)
        todo.extend(deps[p])
    return seen


def owner(path):
    """The package holding a library, trying the merged-/usr spellings of its path."""
    real = os.path.realpath(path)
    candidates = [path, real]
    for p in (path, real):
        if p.startswith("/usr/"):
            candidates.append(p[4:])
        else:
            candidates.append("/usr" + p)
    for c in candidates:
        r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def main():
    dockerfile, src, binary, root = sys.argv[1:5]
    stage = stages(dockerfile)[-1]
    packages, settings, env = [], {}, []
    for word, arg in stage:
        if word == "RUN" and "apt-get install" in arg:
            install = arg.split("apt-get install", 1)[1].split("&&")[0]
            packages += [w for w in install.split() if not w.startswith("-")]
        elif word == "COPY":
            args = arg.split()
            frm = [a for a in args if a.startswith("--from=")]
            args = [a for a in args if not a.startswith("--")]
            dst = root + args[-1]
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            source = binary if frm else os.path.join(src, args[0])
            if os.path.isdir(source):
                shutil.copytree(source, dst)
            else:
                shutil.copy2(source, dst)
        elif word == "ENV":
            key, _, value = arg.partition("=")
            env.append(key + "=" + value)
        elif word == "ENTRYPOINT":
            settings["ENTRYPOINT"] = " ".join(shlex.quote(a) for a in json.loads(arg))
            settings["ENTRYPOINT_EXEC_FORM"] = "yes" if arg.startswith("[") else "no"
        elif word in ("USER", "EXPOSE", "STOPSIGNAL"):
            settings[word] = arg
    settings["PACKAGES"] = " ".join(packages)
    settings["ENVS"] = " ".join(env)

    deps, required = installed()
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = re.findall(r"=> (/\S+)", ldd) + re.findall(r"^\s*(/\S+) \(", ldd, re.M)
    owners = {lib: owner(lib) for lib in libs}
    # A sanitizer build's runtime, and what that runtime needs (libubsan: libstdc++), are the
    # test build's, not the image's.
    sanitizers = [p for p in owners.values() if re.match(r"lib(asan|ubsan)\d", p or "")]
    allowed = closure(packages + required + sanitizers, deps)
    missing = []
    for lib in libs:
        pkg = owners[lib]
        if pkg not in allowed:
            missing.append(f"{lib} ({pkg or 'no package'})")
        dst = root + lib
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.realpath(lib), dst)
    problems = []
    if missing:
        problems.append("libraries no runtime package provides: " + ", ".join(missing))
    if "ca-certificates" in packages:
        # The package's bundle, taken from this machine as the libraries are.
        bundle = "/etc/ssl/certs/ca-certificates.crt"
        if os.path.exists(bundle):
            os.makedirs(root + os.path.dirname(bundle), exist_ok=True)
            shutil.copy2(bundle, root + bundle)
        else:
            problems.append(f"the stage installs ca-certificates, but this machine has no {bundle} "
                            "to put in the image (tools/deps.sh installs the package)")
    settings["LIBS"] = str(len(libs))
    for key, value in settings.items():
        print(f"IMG_{key}={shlex.quote(value)}")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
