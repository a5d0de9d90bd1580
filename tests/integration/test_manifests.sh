#!/usr/bin/env bash
# examples/kubernetes: every manifest parsed (python3-yaml) and checked against what mayfly
# does: the defaults are read from `mayfly --help`, the image's user from the Dockerfile, and
# the scripts ConfigMap is extracted and checked with `mayfly check`.
. "$(dirname "$0")/lib.sh"

K="$MAYFLY_SOURCE_DIR/examples/kubernetes"
"$MAYFLY_BIN" --help >"$WORK/help"
python3 - "$K" "$WORK/help" "$MAYFLY_SOURCE_DIR/Dockerfile" "$WORK/cm" >"$WORK/results" 2>&1 <<'PY'
import glob, os, re, sys
import yaml

kdir, helpfile, dockerfile, cmdir = sys.argv[1:5]


def report(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name + ("" if ok else "\n    " + str(detail)))


def seconds(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    n, unit = float(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


# mayfly's defaults, as --help prints them: "--flag  MAYFLY_VAR  text [default]"
defaults = {}
for line in open(helpfile):
    m = re.match(r"\s+--\S+\s+(MAYFLY_\w+)\s+.*\[([^\]]*)\]\s*$", line)
    if m:
        defaults[m.group(1)] = m.group(2)
report("--help lists the drain delay, shutdown timeout and listen defaults",
       all(k in defaults for k in ("MAYFLY_DRAIN_DELAY", "MAYFLY_SHUTDOWN_TIMEOUT", "MAYFLY_LISTEN")),
       defaults)

docs = {}
files = sorted(os.path.basename(f) for f in glob.glob(kdir + "/*.yaml"))
for f in files:
    if f == "kustomization.yaml":
        continue
    for d in yaml.safe_load_all(open(os.path.join(kdir, f))):
        if d:
            docs[(d["kind"], d["metadata"]["name"])] = d

kust = yaml.safe_load(open(kdir + "/kustomization.yaml"))
report("kustomization lists every manifest",
       sorted(kust["resources"]) == sorted(f for f in files if f != "kustomization.yaml"),
       kust["resources"])

dep = docs[("Deployment", "mayfly")]
pod = dep["spec"]["template"]["spec"]
labels = dep["spec"]["template"]["metadata"]["labels"]
c = next(x for x in pod["containers"] if x["name"] == "mayfly")
env = {e["name"]: e.get("value") for e in c.get("env", [])}


def setting(name):
    return env.get(name) or defaults[name]


ports = {p["name"]: p["containerPort"] for p in c["ports"]}
listen_port = int(setting("MAYFLY_LISTEN").rsplit(":", 1)[1])
report("container port 'http' is mayfly's listen port", ports.get("http") == listen_port,
       (ports, listen_port))
probes = {"startupProbe": "/startupz", "readinessProbe": "/readyz", "livenessProbe": "/livez"}
for probe, path in probes.items():
    get = c.get(probe, {}).get("httpGet", {})
    port = get.get("port")
    port = ports.get(port, port)
    admin = env.get("MAYFLY_ADMIN_LISTEN")
    want = {listen_port} | ({int(admin.rsplit(":", 1)[1])} if admin else set())
    report(f"{probe} asks {path} on a port mayfly answers it on",
           get.get("path") == path and port in want, get)

grace = pod.get("terminationGracePeriodSeconds", 30)
need = seconds(setting("MAYFLY_DRAIN_DELAY")) + seconds(setting("MAYFLY_SHUTDOWN_TIMEOUT"))
report(f"terminationGracePeriodSeconds ({grace}) >= drain delay + shutdown timeout ({need:g})",
       grace >= need)

psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
user = csc.get("runAsUser", psc.get("runAsUser"))
report("runs as non-root", (csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True)
       and user not in (None, 0), (psc, csc))
image_user = next(l.split()[1] for l in open(dockerfile) if l.startswith("USER "))
report("runAsUser is the image's USER", str(user) == image_user.split(":")[0], (user, image_user))
report("read-only root filesystem", csc.get("readOnlyRootFilesystem") is True, csc)
report("no privilege escalation, every capability dropped",
       csc.get("allowPrivilegeEscalation") is False and csc.get("capabilities", {}).get("drop") == ["ALL"], csc)

strategy = dep["spec"]["strategy"]
report("rolling update never goes below the replica count",
       strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0, strategy)
report("CPU request set (the HPA measures against it)", "cpu" in c["resources"].get("requests", {}))
report("memory limit set", "memory" in c["resources"].get("limits", {}))

mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
volumes = {v["name"]: v for v in pod["volumes"]}
for var in ("MAYFLY_SCRIPTS", "MAYFLY_CONFIG"):
    m = mounts.get(env.get(var))
    vol = volumes.get(m["name"]) if m else None
    cm = vol and vol.get("configMap", {}).get("name")
    report(f"{var} is a whole ConfigMap mount (no subPath) of an existing ConfigMap",
           m is not None and "subPath" not in m and ("ConfigMap", cm) in docs, (m, vol))

url = re.match(r"redis://(?:[^@]*@)?([^:/]+):(\d+)", env["MAYFLY_REDIS_URL"])
rsvc = docs.get(("Service", url.group(1)))
report("MAYFLY_REDIS_URL names the Redis Service and its port",
       rsvc is not None and int(url.group(2)) in [p["port"] for p in rsvc["spec"]["ports"]])

svc = docs[("Service", "mayfly")]
otlp = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
collector = docs.get(("Service", "otel-collector"), {}).get("spec", {})
col_cfg = yaml.safe_load(docs.get(("ConfigMap", "otel-collector"), {}).get("data", {}).get("config.yaml", "{}"))
col_http = col_cfg.get("receivers", {}).get("otlp", {}).get("protocols", {}).get("http", {})
report("OTEL_EXPORTER_OTLP_ENDPOINT names the collector Service's port",
       otlp == "http://otel-collector:%d" % collector.get("ports", [{}])[0].get("port", 0), otlp)
report("the collector receives OTLP/HTTP on that port into a traces pipeline",
       col_http.get("endpoint", "").endswith(":4318") and
       "otlp" in col_cfg.get("service", {}).get("pipelines", {}).get("traces", {}).get("receivers", []),
       col_cfg)
report("Service selects the Deployment's pods",
       svc["spec"]["selector"].items() <= labels.items(), svc["spec"]["selector"])
report("Service targets a named container port",
       all(p["targetPort"] in ports or p["targetPort"] in ports.values() for p in svc["spec"]["ports"]))

hpa = docs[("HorizontalPodAutoscaler", "mayfly")]
ref = hpa["spec"]["scaleTargetRef"]
report("HPA scales the Deployment", (ref["kind"], ref["name"]) == ("Deployment", "mayfly"), ref)
report("HPA keeps at least two replicas", hpa["spec"]["minReplicas"] >= 2)

pdb = docs[("PodDisruptionBudget", "mayfly")]
report("PDB selects the Deployment's pods",
       pdb["spec"]["selector"]["matchLabels"].items() <= labels.items())
spec = pdb["spec"]
allows = spec.get("maxUnavailable", 0) >= 1 or spec.get("minAvailable", 10**9) < hpa["spec"]["minReplicas"]
report("PDB lets a node drain evict one pod at the minimum replica count", allows, spec)

scripts = docs[("ConfigMap", "mayfly-scripts")]["data"]
os.makedirs(cmdir)
for name, text in scripts.items():
    open(os.path.join(cmdir, name), "w").write(text)
report("the scripts ConfigMap holds .lua files", all(n.endswith(".lua") for n in scripts) and scripts)
PY
rc=$?
cat "$WORK/results"
PASSED=$((PASSED + $(grep -c '^ok - ' "$WORK/results")))
FAILED=$((FAILED + $(grep -c '^not ok - ' "$WORK/results")))
check "the manifest checks ran to the end" [ "$rc" = 0 ]
check "the scripts ConfigMap passes mayfly check" bash -c '"$1" check "$2" >/dev/null' _ "$MAYFLY_BIN" "$WORK/cm"
check "the Kubernetes guide has the kubectl create configmap line" \
  grep -q 'kubectl create configmap mayfly-scripts --from-file=' "$MAYFLY_SOURCE_DIR/docs/kubernetes.md"
mf_finish
