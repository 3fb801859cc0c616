# Selects lld's x86-64 static-link tests (see ci/lld-survey.sh). Input: one
# lld/test/ELF/*.s file. Output, when the file qualifies: one line
#   TRIPLE<TAB>ENTRY
# where ENTRY is the -e/--entry symbol or "-". Rules:
#   - a "REQUIRES: x86" line (x86 alone);
#   - exactly one llvm-mc RUN command, of the tokens llvm-mc,
#     -filetype=obj, -triple=x86_64*, %s, -o OBJ and nothing else;
#   - a first ld.lld RUN command of the tokens ld.lld, OBJ, -o OUT and at
#     most -e SYM, --entry=SYM, -static (no other input or option, not
#     under "not", output not piped).
function flush() {
    if (cmd != "") { ncmd++; cmds[ncmd] = cmd }
    cmd = ""
}
/REQUIRES:[ \t]*x86[ \t]*$/ { x86 = 1 }
/^[ \t]*[#;/]+[ \t]*RUN:/ {
    line = $0
    sub(/^[ \t]*[#;/]+[ \t]*RUN:[ \t]*/, "", line)
    cont = (line ~ /\\[ \t]*$/)
    sub(/\\[ \t]*$/, "", line)
    cmd = cmd " " line
    if (!cont) flush()
    next
}
END {
    flush()
    if (!x86) exit
    nmc = 0; obj = ""
    for (i = 1; i <= ncmd; i++) {
        n = split(cmds[i], t, /[ \t]+/)
        # split yields an empty first token for a leading blank
        k = 0; delete w
        for (j = 1; j <= n; j++) if (t[j] != "") w[++k] = t[j]
        if (k == 0) continue
        has = 0
        for (j = 1; j <= k; j++) if (w[j] == "llvm-mc") has = 1
        if (!has) continue
        nmc++
        if (w[1] != "llvm-mc" || k != 6) { bad = 1; continue }
        ft = tr = src = 0; o = ""
        for (j = 2; j <= k; j++) {
            if (w[j] == "-filetype=obj") ft = 1
            else if (w[j] ~ /^-triple=x86_64/) { tr = 1; triple = substr(w[j], 9) }
            else if (w[j] == "%s") src = 1
            else if (w[j] == "-o" && j < k) { o = w[j+1]; j++ }
            else bad = 1
        }
        if (!(ft && tr && src) || o == "") bad = 1
        obj = o
    }
    if (nmc != 1 || bad || obj == "") exit
    for (i = 1; i <= ncmd; i++) {
        n = split(cmds[i], t, /[ \t]+/)
        k = 0; delete w
        for (j = 1; j <= n; j++) if (t[j] != "") w[++k] = t[j]
        if (k == 0) continue
        has = 0
        for (j = 1; j <= k; j++) if (w[j] == "ld.lld") has = 1
        if (!has) continue
        # the first ld.lld command decides
        if (w[1] != "ld.lld") exit
        entry = "-"; nin = 0; out = ""
        for (j = 2; j <= k; j++) {
            if (w[j] == obj) nin++
            else if (w[j] == "-o" && j < k) { out = w[j+1]; j++ }
            else if (w[j] == "-e" && j < k) { entry = w[j+1]; j++ }
            else if (w[j] ~ /^--entry=/) { entry = substr(w[j], 9) }
            else if (w[j] == "-static") { }
            else exit
        }
        if (nin == 1 && out != "") printf "%s\t%s\n", triple, entry
        exit
    }
}
