#!/usr/bin/env python3
"""Print, per Kong tag, the migrations Kong's code knows and which of them
define a PostgreSQL `teardown`, read from a git checkout of github.com/Kong/kong.

    scripts/kong-migration-facts.py /path/to/kong.git 2.8.0 3.6.1 master

Its output is crates/kong-catalog/tests/migrations-at-tags.txt, which the catalog's
tests compare every release against. One line per tag and subsystem:
`TAG SUBSYSTEM MIGRATION...`, migrations in Kong's order, a `+` after the
name of one whose PostgreSQL part defines a `teardown`. Subsystems come
`core` first, then plugins by name.
"""
import re
import subprocess
import sys


def show(repo, tag, path):
    out = subprocess.run(["git", "-C", repo, "show", f"{tag}:{path}"],
                         capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None


def strip_lua(text):
    """Drop comments, long strings and quoted strings, so braces and words
    left over are Lua structure."""
    out, i, n = [], 0, len(text)
    while i < n:
        long_open = re.match(r"\[(=*)\[", text[i:])
        if text.startswith("--", i):
            rest = text[i + 2:]
            lm = re.match(r"\[(=*)\[", rest)
            if lm:
                close = "]" + lm.group(1) + "]"
                j = text.find(close, i + 2 + lm.end())
                i = n if j < 0 else j + len(close)
            else:
                j = text.find("\n", i)
                i = n if j < 0 else j
        elif long_open:
            close = "]" + long_open.group(1) + "]"
            j = text.find(close, i + long_open.end())
            out.append('""')
            i = n if j < 0 else j + len(close)
        elif text[i] in "\"'":
            q, j = text[i], i + 1
            while j < n and text[j] != q:
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def postgres_has_teardown(source):
    """True when the module's returned table has `postgres = { ... teardown = ... }`
    at the top level of the postgres table."""
    code = strip_lua(source)
    m = re.search(r"\bpostgres\s*=\s*\{", code)
    if not m:
        return False
    depth, i = 1, m.end()
    keys = []
    while i < len(code) and depth > 0:
        c = code[i]
        if c in "{(":
            depth += 1
        elif c in "})":
            depth -= 1
        elif depth == 1:
            km = re.match(r"([A-Za-z_][A-Za-z_0-9]*)\s*=(?!=)", code[i:])
            if km and (i == 0 or not (code[i - 1].isalnum() or code[i - 1] == "_")):
                keys.append(km.group(1))
                i += km.end()
                continue
        i += 1
    return "teardown" in keys


def module_path(module):
    return module.replace(".", "/") + ".lua"


def function_body(code, name):
    """The text of `local function NAME(...) ... end` up to the next
    top-level function (good enough for Kong's operations modules)."""
    m = re.search(r"\bfunction\s+" + re.escape(name) + r"\s*\(", code)
    if not m:
        return None
    nxt = re.search(r"\n(local\s+)?function\s", code[m.end():])
    return code[m.start(): m.end() + nxt.start()] if nxt else code[m.start():]


def migration_kind(repo, tag, source):
    """`teardown` or `up` for a migration module; follows the two
    indirections Kong's modules use: `return require(MOD)(...)` and
    `return operations.FUNC(...)` with `operations = require MOD`."""
    code = strip_lua(source)
    if re.search(r"\bpostgres\s*=\s*\{", code):
        return "teardown" if postgres_has_teardown(source) else "up"
    req = re.search(r'return\s+require\s*\(?\s*"([^"]+)"', strip_lua_comments(source))
    if req:
        target = show(repo, tag, module_path(req.group(1)))
        return migration_kind(repo, tag, target) if target else "UNRESOLVED"
    call = re.search(r"return\s+([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*\(", code)
    if call:
        local = re.search(r"local\s+" + call.group(1) + r'\s*=\s*require\s*\(?\s*"([^"]+)"',
                          strip_lua_comments(source))
        if local:
            target = show(repo, tag, module_path(local.group(1)))
            body = function_body(target or "", call.group(2))
            if body is not None:
                return "teardown" if postgres_has_teardown(body) else "up"
    return "UNRESOLVED"


def migration_list(source):
    return re.findall(r'"([^"]+)"', strip_lua_comments(source))


def strip_lua_comments(text):
    return re.sub(r"--[^\n]*", "", text)


def subsystems(repo, tag):
    files = subprocess.run(["git", "-C", repo, "ls-tree", "-r", "--name-only", tag],
                           capture_output=True, text=True, check=True).stdout.split()
    plugins = sorted(re.match(r"kong/plugins/([^/]+)/migrations/init.lua$", f).group(1)
                     for f in files if re.match(r"kong/plugins/[^/]+/migrations/init.lua$", f))
    result = [("core", "kong/db/migrations/core")]
    result += [(p, f"kong/plugins/{p}/migrations") for p in plugins]
    return result


def main():
    repo, tags = sys.argv[1], sys.argv[2:]
    for tag in tags:
        for name, directory in subsystems(repo, tag):
            index = show(repo, tag, f"{directory}/init.lua")
            marked = []
            for migration in migration_list(index):
                module = show(repo, tag, f"{directory}/{migration}.lua")
                kind = migration_kind(repo, tag, module) if module else "MISSING"
                if kind not in ("up", "teardown"):
                    sys.exit(f"{tag} {name} {migration}: {kind}")
                marked.append(migration + ("+" if kind == "teardown" else ""))
            print(f"{tag} {name} {' '.join(marked)}")


if __name__ == "__main__":
    main()
