# One COMDAT section of each selection lld-link supports, and an
# associative section, for llvm-mc -triple x86_64-pc-windows-msvc.
.section .text$a,"xr",one_only,a
.globl a
a: ret
.section .text$b,"xr",discard,b
.globl b
b: ret
.section .rdata$c,"dr",same_size,c
.globl c
c: .byte 1
.section .rdata$d,"dr",same_contents,d
.globl d
d: .byte 1
.section .rdata$e,"dr",largest,e
.globl e
e: .byte 1
.section .xdata$b,"dr",associative,b
.long b@IMGREL
.section .rdata$s,"dr",discard,s
s: .byte 3
