/* faults: take #DE, #UD, #BP, #GP and int $0x80, resuming after each; then
   turn paging on (4 KiB tables for the first 4 MiB, 4 MiB PSE pages above)
   and take page faults, printing CR2 and the error code. */
#include "kern.h"

/* Each trigger is a tiny function with a label on the instruction of interest
   (NAME_insn) and one where execution should resume (NAME_resume). */
asm(
    ".text\n"
    /* #DE: divide by zero */
    "do_de:\n"
    "    movl $7, %eax\n"
    "    xorl %edx, %edx\n"
    "    xorl %ecx, %ecx\n"
    "de_insn: divl %ecx\n"
    "de_resume: ret\n"
    /* #UD: ud2 */
    "do_ud:\n"
    "ud_insn: ud2\n"
    "ud_resume: ret\n"
    /* #BP: int3 is a trap, so the saved EIP is already past it */
    "do_bp:\n"
    "bp_insn: int3\n"
    "bp_resume: ret\n"
    /* #GP: selector 0x2b is past the GDT's limit; error code is the selector without RPL */
    "do_gp:\n"
    "    movw $0x2b, %ax\n"
    "gp_insn: movw %ax, %ds\n"
    "gp_resume: ret\n"
    /* int $0x80 with an argument in EAX; the handler returns a value in EAX */
    "do_sys:\n"
    "    movl 4(%esp), %eax\n"
    "sys_insn: int $0x80\n"
    "sys_resume: ret\n"
    /* page fault on a read of the address in the first argument */
    "do_pf_read:\n"
    "    movl 4(%esp), %ecx\n"
    "    xorl %eax, %eax\n"
    "pfr_insn: movl (%ecx), %eax\n"
    "pfr_resume: ret\n"
    /* page fault on a write */
    "do_pf_write:\n"
    "    movl 4(%esp), %ecx\n"
    "pfw_insn: movl $0x5a5a5a5a, (%ecx)\n"
    "pfw_resume: ret\n"
    /* page fault on an instruction fetch: call the address; the handler
       resumes at a bare ret, which returns to our caller */
    "do_pf_fetch:\n"
    "    movl 4(%esp), %ecx\n"
    "pff_insn: call *%ecx\n"
    "    ret\n"
    "pff_resume: ret\n"
);

#define TRIGGER(name) \
    extern char name##_insn[], name##_resume[]
TRIGGER(de); TRIGGER(ud); TRIGGER(bp); TRIGGER(gp); TRIGGER(sys);
TRIGGER(pfr); TRIGGER(pfw); TRIGGER(pff);
void do_de(void), do_ud(void), do_bp(void), do_gp(void);
uint32_t do_sys(uint32_t arg), do_pf_read(uint32_t addr);
void do_pf_write(uint32_t addr), do_pf_fetch(uint32_t addr);

/* What the running test expects. */
static const char *cur_name;
static uint32_t cur_insn, cur_resume;
static volatile uint32_t faults_taken;

static const char *const names[] = {
    [0] = "#DE", [3] = "#BP", [6] = "#UD", [13] = "#GP", [14] = "#PF",
};

static void print_eip(uint32_t eip)
{
    if (eip >= cur_insn && eip < cur_insn + 16)
        kprintf("eip %s_insn+%u", cur_name, eip - cur_insn);
    else
        kprintf("eip 0x%08x", eip);
}

static void on_fault(struct trapframe *tf)
{
    faults_taken++;
    kprintf("  vector %u %s err 0x%x ", tf->vector, names[tf->vector], tf->err);
    if (tf->vector == 14)
        kprintf("cr2 0x%08x ", read_cr2());
    print_eip(tf->eip);
    kprintf("\n");
    tf->eip = cur_resume;
}

static void on_syscall(struct trapframe *tf)
{
    faults_taken++;
    kprintf("  vector 0x%x syscall eax 0x%x ", tf->vector, tf->eax);
    print_eip(tf->eip);
    kprintf("\n");
    tf->eax = ~tf->eax;
}

#define RUN(label, name, call) do {                     \
        kprintf("%s:\n", label);                        \
        cur_name = #name;                               \
        cur_insn = (uint32_t)name##_insn;               \
        cur_resume = (uint32_t)name##_resume;           \
        call;                                           \
    } while (0)

/* Paging structures: identity map of the first 64 MiB. */
static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt0[1024] __attribute__((aligned(4096)));

/* The CPU updates the Accessed and Dirty bits behind the compiler's back. */
#define PEEK(x) (*(volatile uint32_t *)&(x))

#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_A   0x020
#define PTE_D   0x040
#define PTE_PS  0x080

#define RO_PAGE     0x003FF000u     /* mapped read-only */
#define ABSENT_PAGE 0x003FE000u     /* PTE not present */
#define AD_PAGE     0x003FD000u     /* watched for Accessed and Dirty */
#define BIG_PAGE    0x00800000u     /* a 4 MiB page, PDE 2 */
#define UNMAPPED    0x40000000u     /* PDE 256 not present */

static void paging_on(void)
{
    for (uint32_t i = 0; i < 1024; i++)
        pt0[i] = (i << 12) | PTE_P | PTE_W;
    pt0[RO_PAGE >> 12] = RO_PAGE | PTE_P;
    pt0[ABSENT_PAGE >> 12] = 0;
    pd[0] = (uint32_t)pt0 | PTE_P | PTE_W;
    for (uint32_t i = 1; i < 16; i++)
        pd[i] = (i << 22) | PTE_PS | PTE_P | PTE_W;
    write_cr4(read_cr4() | 0x10);                       /* PSE */
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | 0x80000000u | 0x10000u);     /* PG, WP */
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    kprintf("faults: exceptions, then paging\n");
    gdt_init();
    idt_init();
    for (int v = 0; v < 32; v++)
        set_handler(v, on_fault);
    set_handler(0x80, on_syscall);

    RUN("divide by zero", de, do_de());
    RUN("ud2", ud, do_ud());
    RUN("int3", bp, do_bp());
    RUN("bad selector into DS", gp, do_gp());
    uint32_t r;
    RUN("int $0x80", sys, r = do_sys(0x1234));
    kprintf("  returned 0x%x\n", r);

    *(volatile uint32_t *)(RO_PAGE + 0x10) = 0xc0ffee;
    paging_on();
    /* Only the bits this kernel set: the rest (ET, CD, NW, ...) are firmware's business. */
    kprintf("paging on: cr0 PG|WP|PE 0x%08x cr4 PSE 0x%x\n",
            read_cr0() & 0x80010001u, read_cr4() & 0x10);

    volatile uint32_t *ad = (volatile uint32_t *)(AD_PAGE + 0x40);
    volatile uint32_t *big = (volatile uint32_t *)(BIG_PAGE + 0x1230);
    kprintf("pde 0 flags 0x%03x, pte 0x%05x flags 0x%03x, pde 2 flags 0x%03x\n",
            PEEK(pd[0]) & 0xFFF, AD_PAGE >> 12, PEEK(pt0[AD_PAGE >> 12]) & 0xFFF, PEEK(pd[2]) & 0xFFF);
    (void)*ad;
    (void)*big;
    kprintf("after read:  pte 0x%03x pde 2 0x%03x\n", PEEK(pt0[AD_PAGE >> 12]) & 0xFFF, PEEK(pd[2]) & 0xFFF);
    *ad = 1;
    *big = 1;
    kprintf("after write: pte 0x%03x pde 2 0x%03x\n", PEEK(pt0[AD_PAGE >> 12]) & 0xFFF, PEEK(pd[2]) & 0xFFF);

    RUN("read unmapped", pfr, r = do_pf_read(UNMAPPED + 0x123));
    RUN("write unmapped", pfw, do_pf_write(UNMAPPED + 0x456));
    RUN("read absent 4 KiB page", pfr, r = do_pf_read(ABSENT_PAGE + 0x20));
    kprintf("read read-only page: 0x%x\n", do_pf_read(RO_PAGE + 0x10));
    RUN("write read-only page", pfw, do_pf_write(RO_PAGE + 0x10));
    RUN("fetch unmapped", pff, do_pf_fetch(UNMAPPED + 0x1000));
    kprintf("read-only page still 0x%x\n", do_pf_read(RO_PAGE + 0x10));

    kprintf("%u exceptions handled\n", faults_taken);
    qemu_exit(0);
}
