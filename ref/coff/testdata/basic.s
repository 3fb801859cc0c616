# Features the COFF reader maps onto the neutral model, assembled by the
# tests with llvm-mc -triple x86_64-pc-windows-msvc.
.intel_syntax noprefix
.file "basic.c"

.text
.def _start; .scl 2; .type 32; .endef
.globl _start
.p2align 4
_start:
 call helper                                  # REL32 -> Branch32 (other section)
 call ext_func                                # REL32 -> Branch32, undefined
 mov rax, qword ptr [rip + .refptr.ext_var]   # COMDAT cell -> GOTLoad32 ext_var
 lea rcx, [rip + .refptr.ext_var]             # COMDAT cell -> GOTPCRel32 ext_var
 mov rdx, qword ptr [rip + .refptr.counter]   # static cell -> GOTLoad32 counter
 lea rsi, [rip + msg]                         # PCRel32 msg-4
 cmp byte ptr [rip + msg + 1], 0x69           # field -1: PCRel32 msg+1-5
 call qword ptr [rip + table + 8]             # PCRel32 table+8-4
 call wundef                                  # weak undefined
 call wdef                                    # weak defined
 test eax, eax
 je ext_func                                  # jcc rel32 -> Branch32
 jmp helper                                   # jmp rel32 -> Branch32

.def wdef; .scl 2; .type 32; .endef
.weak wdef
wdef: ret
.weak wundef

.section .text$h,"xr"
.def helper; .scl 3; .type 32; .endef
helper:
 mov eax, 1
 ret

.data
.p2align 3
.globl table
table: .quad _start, helper, ext_func + 16    # ADDR64
counter: .quad 7
 .rva helper                                  # ADDR32NB
 .long ext_var + 4                            # ADDR32

.section .rdata,"dr"
msg: .asciz "hi"

.bss
.p2align 4
.globl buf
buf: .zero 64
.lcomm lbuf, 16, 8

.section .rdata$.refptr.ext_var,"dr",discard,.refptr.ext_var
.p2align 3
.globl .refptr.ext_var
.refptr.ext_var: .quad ext_var

.section .rdata$r,"dr"
.p2align 3
.refptr.counter: .quad counter

.section .data$zz,"dw"
.globl grouped
grouped: .quad 1

.section .rdata$averyveryverylongsectionname,"dr"
.globl longname
longname: .byte 2
