#!/usr/bin/env bash
# The guide cannot rot unnoticed: every relative link and #anchor in README.md, docs/*.md and the
# examples' READMEs leads somewhere (anchors by GitHub's heading slugs), and the configuration
# reference (docs/configuration.md) names every setting `mayfly --help` prints, with its flag
# and default, and no MAYFLY_* variable that the binary does not have. The README's first
# handler passes its own spec.
. "$(dirname "$0")/lib.sh"

"$MAYFLY_BIN" --help >"$WORK/help.txt" || { fail "mayfly --help runs"; mf_finish; }
redis_start || exit 1

python3 - "$MAYFLY_SOURCE_DIR" "$WORK/help.txt" >"$WORK/results" 2>&1 <<'PY'
import glob, os, re, sys, unicodedata

root, help_file = sys.argv[1], sys.argv[2]
results = []

def check(name, ok, detail=""):
    results.append((name, ok, detail))

# ---- links and anchors ----
def strip_code(text):
    """The text outside fenced code blocks, with inline code spans blanked (line numbers kept)."""
    out, fence = [], None
    for line in text.split("\n"):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            mark = m.group(1)[0] * 3
            if fence is None:
                fence = mark
            elif mark == fence:
                fence = None
            out.append("")
            continue
        out.append("" if fence else re.sub(r"(`+)(?:(?!\1).)+?\1", lambda c: " " * len(c.group(0)), line))
    return out

def slug(heading):
    """GitHub's anchor for a heading: the rendered text, lower-cased, punctuation dropped
    (letters, digits, '_', '-' and spaces kept), spaces turned into '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)                          # inline HTML
    text = text.replace("`", "").strip().lower()
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in " -_" or cat[0] in "LN" or cat == "Mn":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")

anchors_cache = {}
def anchors(path):
    if path not in anchors_cache:
        seen, result = {}, set()
        for line in strip_code(open(path, encoding="utf-8").read()):
            m = re.match(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            s = slug(m.group(2))
            n = seen.get(s, 0)
            seen[s] = n + 1
            result.add(s if n == 0 else f"{s}-{n}")
        anchors_cache[path] = result
    return anchors_cache[path]

pages = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md"))) \
    + [os.path.join(root, "examples", "README.md")] \
    + sorted(glob.glob(os.path.join(root, "examples", "*", "README.md")))
link_re = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
n_links = 0
for page in pages:
    if not os.path.exists(page):
        continue
    rel_page = os.path.relpath(page, root)
    for lineno, line in enumerate(strip_code(open(page, encoding="utf-8").read()), 1):
        for m in link_re.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):   # http:, https:, mailto:
                continue
            n_links += 1
            path, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            where = f"{rel_page}:{lineno}: ({target})"
            if not os.path.exists(dest):
                check(f"link {where}", False, f"{os.path.relpath(dest, root)} does not exist")
                continue
            if anchor:
                if not dest.endswith(".md") or os.path.isdir(dest):
                    check(f"link {where}", False, "an anchor into a file that is not Markdown")
                elif anchor not in anchors(dest):
                    check(f"link {where}", False,
                          f"no heading with the anchor #{anchor} in {os.path.relpath(dest, root)}")
broken = sum(1 for name, ok, _ in results if name.startswith("link ") and not ok)
check(f"README.md, docs/ and the examples' READMEs: {n_links} relative links, "
      f"{broken or 'none'} broken", not broken)
check("the guide has pages", len(pages) > 10 and n_links > 20, f"{len(pages)} pages, {n_links} links")

# ---- the configuration reference against the settings table in the code ----
help_text = open(help_file, encoding="utf-8").read()
settings = re.findall(r"^\s+--([a-z0-9-]+)\s+(MAYFLY_[A-Z0-9_]+)\s+(.*)$", help_text, re.M)
check(f"mayfly --help lists settings ({len(settings)})", len(settings) >= 20)
ref_path = os.path.join(root, "docs", "configuration.md")
ref = open(ref_path, encoding="utf-8").read() if os.path.exists(ref_path) else ""
check("docs/configuration.md exists", bool(ref))
before = len(results)
rows = {}
for line in ref.split("\n"):
    cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
    if len(cells) >= 3 and re.fullmatch(r"`MAYFLY_[A-Z0-9_]+`", cells[0]):
        rows[cells[0].strip("`")] = cells
for flag, var, text in settings:
    row = rows.get(var)
    if not row:
        check(f"docs/configuration.md has a row for {var}", False,
              f"mayfly --help prints --{flag} {var}: add it to the table")
        continue
    if row[1].strip("`") != f"--{flag}":
        check(f"docs/configuration.md: {var}'s flag", False, f"the table says {row[1]}, the code --{flag}")
    m = re.search(r"\[([^\]]*)\]\s*$", text)
    default = m.group(1) if m else None
    if default and " " not in default and ":" not in default:
        doc_default = row[2].replace("`", "").strip()
        if doc_default.split(" ")[0] != default:
            check(f"docs/configuration.md: {var}'s default", False,
                  f"the table says {row[2]}, mayfly --help [{default}]")
known = {var for _, var, _ in settings}
for var in sorted(set(re.findall(r"\bMAYFLY_[A-Z0-9_]*[A-Z0-9]\b", ref))):
    if var not in known and not var.startswith("MAYFLY_CFG"):
        check(f"docs/configuration.md names {var}", False, "mayfly --help has no such setting")
stale = sum(1 for _, ok, _ in results[before:] if not ok)
check(f"docs/configuration.md: all {len(settings)} settings of mayfly --help, each with its flag "
      "and default, and nothing else", not stale)

for name, ok, detail in results:
    print(("ok\t" if ok else "not ok\t") + name + "\t" + detail)
PY
checks_report "$WORK/results"
# The README's first handler and its spec, as printed there, pass `mayfly test`.
mkdir -p "$WORK/first/scripts" "$WORK/first/spec"
python3 - "$MAYFLY_SOURCE_DIR/README.md" "$WORK/first" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("## A first handler", 1)[1].split("\n## ", 1)[0]
for block in re.findall(r"```lua\n(.*?)```", section, re.S):
    name = re.match(r"-- (\S+)", block)
    if name:
        open(f"{sys.argv[2]}/{name.group(1)}", "w").write(block)
PY
check "README: the first handler's files are there" \
  bash -c 'ls "$1"/scripts/*.lua "$1"/spec/*_spec.lua >/dev/null' _ "$WORK/first"
out=$(cd "$WORK/first" && MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/15" "$MAYFLY_BIN" test -o TAP 2>&1)
check "README: the first handler passes its spec" \
  bash -c '[ "$(grep -c "^ok " <<<"$1")" -gt 0 ] && ! grep -q "^not ok" <<<"$1"' _ "$out"
check "README: mayfly check lists its routes" \
  bash -c 'cd "$2" && "$1" check | grep -q "PUT /users/:id"' _ "$MAYFLY_BIN" "$WORK/first"
mf_finish
