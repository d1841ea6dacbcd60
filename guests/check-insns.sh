#!/bin/sh
# Fail if an image holds x87, MMX or SSE instructions, or ENDBR32: the
# emulated CPU reports no FPU and would raise #UD on them.
# Usage: check-insns.sh IMAGE...
status=0
for image in "$@"; do
	bad=$(objdump -d --no-show-raw-insn "$image" |
		awk -F'\t' 'NF >= 2 && $1 ~ /:$/ { split($2, a, " "); print a[1] }' |
		sort -u |
		grep -E '^(f[a-z0-9]*|wait|emms|movq|movd|endbr32|endbr64|ldmxcsr|stmxcsr)$|(ps|pd|ss|sd)$|^p[a-oq-z]' |
		grep -Ev '^(push|pushl|pushw|pusha|pushal|pushf|pushfl|pop|popl|popw|popa|popal|popf|popfl|pause)$')
	if [ -n "$bad" ]; then
		echo "$image: instructions the guest CPU lacks:" $bad >&2
		status=1
	fi
done
exit $status
