/* The initramfs's /init for a MiniHv Linux guest: says it runs, prints uname, divides with the x87 (which
   the kernel's math emulator runs when the CPU has no FPU), and reboots (which ends the run on MiniHv, as on
   QEMU with -no-reboot).  No C library: three system calls through int $0x80. */
#define SYS_write  4
#define SYS_reboot 88
#define SYS_uname  122

struct utsname { char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65]; };

static long syscall3(long n, long a, long b, long c)
{
    long r;
    asm volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

static unsigned length(const char *s) { unsigned n = 0; while (s[n]) n++; return n; }

static void put(const char *s) { syscall3(SYS_write, 1, (long)s, length(s)); }

/* 'v' in decimal. */
static void put_number(unsigned v)
{
    char text[12];
    int i = sizeof text - 1;
    text[i] = 0;
    do
        text[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(text + i);
}

void _start(void)
{
    static struct utsname u;
    put("init: hello from user space\n");
    if (syscall3(SYS_uname, (long)&u, 0, 0) == 0) {
        put("init: ");
        put(u.sysname); put(" "); put(u.release); put(" "); put(u.machine); put("\n");
    }
    /* x87 arithmetic: on MiniHv every instruction here traps (#NM) into the kernel's math emulator. */
    volatile double a = 355, b = 113;
    unsigned micro = (unsigned)(a / b * 1000000.0);
    put("init: 355/113 = ");
    put_number(micro / 1000000);
    put(".");
    put_number(micro % 1000000);
    put("\n");
    put("init: rebooting\n");
    /* LINUX_REBOOT_MAGIC1, MAGIC2, LINUX_REBOOT_CMD_RESTART */
    syscall3(SYS_reboot, (long)0xfee1dead, 672274793, 0x01234567);
    for (;;)
        ;
}
