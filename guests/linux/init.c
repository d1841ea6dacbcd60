/* The initramfs's /init for a MiniHv Linux guest: says it runs, prints uname, divides with the x87 (which
   the kernel's math emulator runs when the CPU has no FPU), idles if the command line says idle_seconds=N,
   and reboots (which ends the run on MiniHv, as on QEMU with -no-reboot).  No C library: four system calls
   through int $0x80.  The sleep is clock_nanosleep_time64: tinyconfig leaves out the 32-bit time calls
   (COMPAT_32BIT_TIME), nanosleep among them. */
#define SYS_write                  4
#define SYS_reboot                 88
#define SYS_uname                  122
#define SYS_clock_nanosleep_time64 407
#define CLOCK_MONOTONIC            1

struct utsname { char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65]; };

static long syscall4(long n, long a, long b, long c, long d)
{
    long r;
    asm volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
    return r;
}

static long syscall3(long n, long a, long b, long c) { return syscall4(n, a, b, c, 0); }

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

/* 's' as a decimal number, or 0 at the first other character. */
static unsigned parse_number(const char *s)
{
    unsigned v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (unsigned)(*s - '0');
    return v;
}

/* N from idle_seconds=N among the environment's words: the kernel gives init every word of its command line
   it does not know that has an '=' (and no '.') as an environment variable. */
static unsigned idle_seconds(char **envp)
{
    static const char key[] = "idle_seconds=";
    for (; *envp; envp++) {
        unsigned i = 0;
        while (key[i] && (*envp)[i] == key[i])
            i++;
        if (!key[i])
            return parse_number(*envp + i);
    }
    return 0;
}

/* The kernel starts init with argc, argv[], 0, envp[], 0 on its stack: the C code gets a pointer to argc. */
asm(".globl _start\n_start:\n\tpushl %esp\n\tcall init_main\n");

void init_main(long *stack)
{
    char **envp = (char **)(stack + 1 + stack[0] + 1);
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
    /* Idling (the kernel halts the CPU until its timer wakes the sleeper) keeps the guest up for a page
       sharing scanner, in guest time: MiniHv skips the halted time, so it costs little host time. */
    unsigned idle = idle_seconds(envp);
    if (idle) {
        struct { long long seconds, nanoseconds; } span = { idle, 0 };
        put("init: idling ");
        put_number(idle);
        put(" s\n");
        long error = syscall4(SYS_clock_nanosleep_time64, CLOCK_MONOTONIC, 0, (long)&span, 0);
        if (error) {
            put("init: the sleep failed with error ");
            put_number((unsigned)-error);
            put("\n");
        }
    }
    put("init: rebooting\n");
    /* LINUX_REBOOT_MAGIC1, MAGIC2, LINUX_REBOOT_CMD_RESTART */
    syscall3(SYS_reboot, (long)0xfee1dead, 672274793, 0x01234567);
    for (;;)
        ;
}
