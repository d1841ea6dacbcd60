namespace MiniHv.Cli.Qemu;

/// <summary>
/// What <c>minihv qemu -version</c>, <c>-help</c> and <c>-d help</c> print: laid out as qemu-system-i386 7.2 lays
/// them out (a version line first, one option to a line starting at column 0), so that the probes course
/// Makefiles run (JOS greps <c>-help</c> for <c>^-D </c>) find what they look for, listing only what MiniHv does.
/// </summary>
internal static class QemuHelp
{
    public const string Version = """
        QEMU emulator version 7.2.0 (MiniHv's qemu-system-i386 front end)
        MiniHv runs the machine; its options follow qemu-system-i386 7.2's

        """;

    public const string Usage = Version + """
        usage: qemu-system-i386 [options] [disk_image]

        'disk_image' is a raw hard disk image for IDE hard disk 0

        Standard options:
        -h or -help     display this help and exit
        -version        display version information and exit
        -machine pc     selects emulated machine: MiniHv is a PC (-M pc, accel=tcg)
        -cpu qemu32     select CPU: MiniHv models qemu32 only
        -smp [cpus=]n[,maxcpus=maxcpus][,sockets=sockets][,dies=dies][,cores=cores][,threads=threads]
                        MiniHv: 1 to 16 CPUs; the topology keys must multiply to the count
        -name string    set the name of the guest
        -m [size=]megs  configure guest RAM (suffixes K, M, G; a bare number is MiB)

        Block device options:
        -hda/-hdb file  use 'file' as IDE hard disk 0/1 image (raw)
        -drive [file=file][,if=ide][,index=i][,media=disk][,format=raw][,snapshot=on|off]
                        use 'file' as a drive image (IDE units 0 and 1 only)
        -snapshot       write to temporary files instead of disk image files

        Display options:
        -display none   no display (MiniHv has none)
        -nographic      disable graphical output and redirect serial I/Os to console

        Linux/Multiboot boot specific:
        -kernel bzImage use 'bzImage' as kernel image (MiniHv: a multiboot v1 ELF32 kernel or a Linux bzImage)
        -append cmdline use 'cmdline' as kernel command line
        -initrd file    use 'file' as initial ram disk

        Debug/Expert options:
        -serial dev     redirect the serial port to char device 'dev' (stdio, mon:stdio, file:FILE, null)
        -monitor dev    redirect the monitor to char device 'dev' (stdio, none)
        -gdb dev        accept gdb connection on 'dev' (tcp::PORT, tcp:ADDRESS:PORT)
        -s              shorthand for -gdb tcp::1234
        -d item1,...    enable logging of specified items (use '-d help' for a list of log items)
        -D logfile      output log to logfile (default stderr)
        -S              freeze CPU at startup (use 'c' in gdb to start execution)
        -no-reboot      exit instead of rebooting
        -no-shutdown    stop before shutdown (MiniHv: the run ends with the guest)
        -device isa-debug-exit,iobase=0xf4,iosize=0x04
                        the debug-exit port (always present in MiniHv at 0xf4)

        During emulation, with -nographic or -serial mon:stdio:
        C-a h    print this help
        C-a x    exit emulator
        C-a c    switch between console and monitor
        C-a C-a  sends C-a

        """;

    public const string LogItems = """
        Log items (comma separated):
        int        show interrupts/exceptions in short format (MiniHv: one line per guest fault)
        cpu_reset  show CPU state before CPU resets

        """;
}
