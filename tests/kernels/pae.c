/* pae: PAE paging.  Checks CPUID's PAE and NX bits, turns on PAE paging with the PDPT 32 bytes into a page
   (4 KiB pages for the first 2 MiB, 2 MiB pages up to 32 MiB), then: Accessed and Dirty on 4 KiB and 2 MiB
   pages, reserved bits (#PF with RSVD) in a PTE and a 2 MiB PDE, bit 63 reserved until EFER.NXE is set and
   execute-disable after (#PF with I/D on fetches, in a PTE, in a PDE, after INVLPG), a page above RAM,
   a read-only page under CR0.WP, a PDPTE that is not present, and a PDPTE change that takes effect at
   the next CR3 load.  With `spin=N` on the command line it then reads and writes its test pages N million
   times before it ends, printing nothing more: a PAE guest that lives long enough for page sharing to merge
   its frames (tests/MiniHv.Tests/Sharing/PaeSharingTests.cs).

   Where QEMU 7.2 departs from the SDM the kernel does not look: QEMU reads the PDPTEs from memory at each
   TLB miss instead of keeping the registers loaded at CR3 (so a changed PDPTE is only read back through a
   translation both keep cached), checks a PDPTE's reserved bits at the walk (#PF) rather than at the load
   (#GP), leaves the P bit clear in the error code of a reserved-bit fault (printed without it), and with
   -cpu qemu32 treats PAE address bits 32-35 as reserved. */
#include "kern.h"

asm(
    ".text\n"
    /* read the dword at the address in the first argument */
    "pae_read:\n"
    "    movl 4(%esp), %ecx\n"
    "    xorl %eax, %eax\n"
    "rd_insn: movl (%ecx), %eax\n"
    "rd_resume: ret\n"
    /* write 0x5a5a5a5a there */
    "pae_write:\n"
    "    movl 4(%esp), %ecx\n"
    "wr_insn: movl $0x5a5a5a5a, (%ecx)\n"
    "wr_resume: ret\n"
    /* call the address: a fetch fault resumes at a bare ret, which pops the call's return address */
    "pae_call:\n"
    "    movl 4(%esp), %ecx\n"
    "    movl $1, %eax\n"
    "call_insn: call *%ecx\n"
    "    ret\n"
    "call_resume: xorl %eax, %eax\n"
    "    ret\n"
);

extern char rd_insn[], rd_resume[], wr_insn[], wr_resume[], call_insn[], call_resume[];
uint32_t pae_read(uint32_t addr), pae_call(uint32_t addr);
void pae_write(uint32_t addr);

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *d)
{
    uint32_t b, c;
    asm volatile("cpuid" : "=a"(*a), "=b"(b), "=c"(c), "=d"(*d) : "a"(leaf), "c"(0));
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint32_t read_cr3(void) { uint32_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void invlpg(uint32_t a) { asm volatile("invlpg (%0)" : : "r"(a) : "memory"); }

#define EFER 0xC0000080u
#define EFER_NXE 0x800u

#define P   0x001ull
#define W   0x002ull
#define A   0x020ull
#define D   0x040ull
#define PS  0x080ull
#define NX  (1ull << 63)

/* The test pages, in the second quarter of the linear space (PDPTE 1). */
#define T_AD      0x40000000u   /* frame_a, read and written for A/D */
#define T_NXCODE  0x40001000u   /* frame_code, NX */
#define T_CODE    0x40002000u   /* frame_code, executable until made NX */
#define T_RSVD    0x40003000u   /* frame_a with address bit 40 set: reserved */
#define T_BIT63   0x40004000u   /* frame_a with bit 63: reserved until NXE, then NX */
#define T_ABSENT  0x40005000u   /* not present */
#define T_NORAM   0x40006000u   /* physical 0xD0000000: no RAM there */
#define T_RO      0x40007000u   /* frame_b, read-only */
#define T_BIG     0x40200000u   /* 2 MiB page at physical 16 MiB */
#define T_BIGRSVD 0x40400000u   /* 2 MiB page with bit 13 set: reserved */
#define T_BIGNX   0x40600000u   /* 2 MiB page, NX in the PDE */
#define T_NOPDPTE 0xC0000000u   /* PDPTE 3 is not present */

static uint64_t pdpt_page[512] __attribute__((aligned(4096)));
static uint64_t pd0[512] __attribute__((aligned(4096)));
static uint64_t pd1[512] __attribute__((aligned(4096)));
static uint64_t pd1b[512] __attribute__((aligned(4096)));
static uint64_t pt0[512] __attribute__((aligned(4096)));
static uint64_t pt1[512] __attribute__((aligned(4096)));
static uint64_t pt1b[512] __attribute__((aligned(4096)));
static uint32_t frame_a[1024] __attribute__((aligned(4096)));
static uint32_t frame_b[1024] __attribute__((aligned(4096)));
static uint8_t frame_code[4096] __attribute__((aligned(4096)));

/* The PDPT sits 32 bytes into its page: CR3 keeps bits 5-11. */
static uint64_t *const pdpt = &pdpt_page[4];

/* The CPU updates the Accessed and Dirty bits behind the compiler's back. */
#define PEEK(x) (*(volatile uint64_t *)&(x))

static const char *cur_name;
static uint32_t cur_insn, cur_resume;
static volatile uint32_t faults_taken;

static void on_fault(struct trapframe *tf)
{
    faults_taken++;
    /* QEMU 7.2 leaves P clear in a RSVD fault's error code (the SDM sets it): for those, P is not printed. */
    uint32_t err = tf->vector == 14 && (tf->err & 8) ? (tf->err & ~1u) : tf->err;
    kprintf("  vector %u err 0x%x%s", tf->vector, err, tf->vector == 14 && (tf->err & 8) ? " (RSVD; P not shown)" : "");
    if (tf->vector == 14)
        kprintf(" cr2 0x%08x", read_cr2());
    if (tf->eip == cur_insn)
        kprintf(" eip %s_insn\n", cur_name);
    else
        kprintf(" eip 0x%08x\n", tf->eip);
    tf->eip = cur_resume;
}

#define EXPECT(name) do {                               \
        cur_name = #name;                               \
        cur_insn = (uint32_t)name##_insn;               \
        cur_resume = (uint32_t)name##_resume;           \
    } while (0)

static uint32_t try_read(const char *what, uint32_t addr)
{
    kprintf("%s: read 0x%08x\n", what, addr);
    EXPECT(rd);
    uint32_t v = pae_read(addr);
    kprintf("  value 0x%x\n", v);
    return v;
}

static void try_write(const char *what, uint32_t addr)
{
    kprintf("%s: write 0x%08x\n", what, addr);
    EXPECT(wr);
    pae_write(addr);
}

static void try_call(const char *what, uint32_t addr)
{
    kprintf("%s: call 0x%08x\n", what, addr);
    EXPECT(call);
    /* A fetch fault's EIP is the target itself, not the call. */
    cur_insn = addr;
    cur_name = "target";
    kprintf("  %s\n", pae_call(addr) ? "returned" : "resumed after the fault");
}

static void flags(const char *what, uint64_t e)
{
    kprintf("  %s flags 0x%03x%s\n", what, (uint32_t)e & 0xFFF, (e & NX) ? " NX" : "");
}

static void build_tables(void)
{
    for (uint32_t i = 0; i < 512; i++)
        pt0[i] = ((uint64_t)i << 12) | P | W;
    pd0[0] = (uint32_t)pt0 | P | W;
    for (uint32_t i = 1; i < 16; i++)
        pd0[i] = ((uint64_t)i << 21) | PS | P | W;

    frame_a[0] = 0xaaaa0001;
    frame_b[0] = 0xbbbb0002;
    frame_code[0] = 0xc3;                               /* ret */
    pt1[0] = (uint32_t)frame_a | P | W;
    pt1[1] = (uint32_t)frame_code | P | W | NX;
    pt1[2] = (uint32_t)frame_code | P | W;
    pt1[3] = (uint32_t)frame_a | P | W | (1ull << 40);
    pt1[4] = (uint32_t)frame_a | P | W | NX;
    pt1[5] = 0;
    pt1[6] = 0xD0000000u | P | W;
    pt1[7] = (uint32_t)frame_b | P;
    pd1[0] = (uint32_t)pt1 | P | W;
    pd1[1] = 0x01000000u | PS | P | W;
    pd1[2] = 0x01200000u | PS | P | W | (1ull << 13);
    pd1[3] = 0x01400000u | PS | P | W | NX;

    /* The other directory for PDPTE 1: T_AD on frame_b. */
    pt1b[0] = (uint32_t)frame_b | P | W;
    pd1b[0] = (uint32_t)pt1b | P | W;

    pdpt[0] = (uint32_t)pd0 | P;
    pdpt[1] = (uint32_t)pd1 | P;
    pdpt[2] = 0;
    pdpt[3] = 0;
}

/* N from "spin=N" in the multiboot command line, or 0. */
static uint32_t spin_count(const struct multiboot_info *mbi)
{
    if (!(mbi->flags & 4) || !mbi->cmdline)
        return 0;
    for (const char *p = (const char *)mbi->cmdline; *p; p++) {
        if (p[0] == 's' && p[1] == 'p' && p[2] == 'i' && p[3] == 'n' && p[4] == '=') {
            uint32_t n = 0;
            for (p += 5; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (uint32_t)(*p - '0');
            return n;
        }
    }
    return 0;
}

/* Touch the test pages through PAE translations, a million times per count. */
static void spin(uint32_t millions)
{
    volatile uint32_t *small = (volatile uint32_t *)(T_AD + 8), *big = (volatile uint32_t *)(T_BIG + 0x2000);
    for (uint32_t m = 0; m < millions; m++) {
        for (uint32_t i = 0; i < 1000000; i++) {
            *small += *big;
            if ((i & 0xFFFF) == 0)
                *big = i;
        }
    }
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    serial_init();
    kprintf("pae: PAE paging, 2 MiB pages, NX, reserved bits, A/D, PDPT loads\n");
    gdt_init();
    idt_init();
    for (int v = 0; v < 32; v++)
        set_handler(v, on_fault);

    uint32_t a, d, max;
    cpuid(1, &a, &d);
    uint32_t pae = (d >> 6) & 1;
    cpuid(0x80000000u, &max, &d);
    uint32_t nx = 0;
    if (max >= 0x80000001u) {
        cpuid(0x80000001u, &a, &d);
        nx = (d >> 20) & 1;
    }
    kprintf("cpuid: PAE %u, extended leaf 0x80000001 %s, NX %u\n", pae, max >= 0x80000001u ? "present" : "absent", nx);
    if (!pae || !nx) {
        kprintf("needs PAE and NX\n");
        qemu_exit(0);
    }

    build_tables();
    write_cr4(read_cr4() | 0x20);                       /* PAE */
    write_cr3((uint32_t)pdpt);
    write_cr0(read_cr0() | 0x80000000u | 0x10000u);     /* PG, WP */
    kprintf("paging on: cr0 PG|WP|PE 0x%08x cr4 PAE 0x%x cr3 page offset 0x%03x, EFER.NXE %u\n",
            read_cr0() & 0x80010001u, read_cr4() & 0x20, read_cr3() & 0xFFF, (uint32_t)(rdmsr(EFER) & EFER_NXE) >> 11);

    kprintf("4 KiB page:\n");
    flags("pde", PEEK(pd1[0]));
    flags("pte", PEEK(pt1[0]));
    (void)*(volatile uint32_t *)T_AD;
    kprintf(" after a read\n");
    flags("pde", PEEK(pd1[0]));
    flags("pte", PEEK(pt1[0]));
    *(volatile uint32_t *)(T_AD + 4) = 7;
    kprintf(" after a write\n");
    flags("pte", PEEK(pt1[0]));

    kprintf("2 MiB page:\n");
    *(volatile uint32_t *)(0x01000000u + 0x1234) = 0x2222;
    flags("pde", PEEK(pd1[1]));
    kprintf("  read 0x%x\n", *(volatile uint32_t *)(T_BIG + 0x1234));
    flags("pde", PEEK(pd1[1]));
    *(volatile uint32_t *)(T_BIG + 0x1FF000) = 1;
    flags("pde", PEEK(pd1[1]));

    try_read("address bit 40 in a PTE", T_RSVD);
    try_write("address bit 40 in a PTE", T_RSVD);
    flags("pte", PEEK(pt1[3]));
    try_read("bit 13 in a 2 MiB PDE", T_BIGRSVD);
    flags("pde", PEEK(pd1[2]));
    try_read("bit 63 without EFER.NXE", T_BIT63);
    try_call("bit 63 without EFER.NXE", T_NXCODE);
    try_call("not present without EFER.NXE", T_ABSENT);

    wrmsr(EFER, rdmsr(EFER) | EFER_NXE);
    kprintf("EFER.NXE %u\n", (uint32_t)(rdmsr(EFER) & EFER_NXE) >> 11);
    try_read("NX data page", T_BIT63);
    try_read("NX code page", T_NXCODE);
    try_call("NX code page", T_NXCODE);
    try_call("executable page", T_CODE);
    try_call("not present with EFER.NXE", T_ABSENT);
    try_call("NX in a 2 MiB PDE", T_BIGNX);
    pt1[2] |= NX;
    invlpg(T_CODE);
    try_call("made NX, after INVLPG", T_CODE);

    try_read("page above RAM", T_NORAM);
    try_write("page above RAM", T_NORAM);
    try_read("page above RAM", T_NORAM);
    try_write("read-only page", T_RO);
    try_read("PDPTE 3 not present", T_NOPDPTE);
    try_write("PDPTE 3 not present", T_NOPDPTE);

    kprintf("PDPTE 1 changed to another directory:\n");
    volatile uint32_t *t = (volatile uint32_t *)T_AD;
    volatile uint64_t *pdpte1 = &pdpt[1];
    uint32_t before = *t;
    *pdpte1 = (uint32_t)pd1b | P;
    uint32_t unchanged = *t;
    write_cr3(read_cr3());
    uint32_t after = *t;
    *pdpte1 = (uint32_t)pd1 | P;
    write_cr3(read_cr3());
    uint32_t back = *t;
    kprintf("  before 0x%x, before the CR3 load 0x%x, after it 0x%x, changed back 0x%x\n", before, unchanged, after, back);

    kprintf("%u exceptions handled\n", faults_taken);
    spin(spin_count(mbi));
    qemu_exit(0);
}
