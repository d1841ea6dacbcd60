using MiniHv.Tests.Cli;

namespace MiniHv.Tests.EndToEnd;

/// <summary>
/// tests/kernels/tsc.c: RDTSC against the PIT and the local APIC timer across HLT. Asserted against MiniHv rather
/// than recorded from QEMU: QEMU 7.2's TCG TSC follows host time, which a halted guest does not see pass evenly.
/// </summary>
public class TscKernelTests
{
    [Test]
    public void Tsc_CountsHaltedTime_AtTheSameRateAsThePitAndTheApicTimer()
    {
        var r = CliRun.InProcess(["run", TestImages.TestKernel("tsc"), "--max-instructions", "200000000"]);
        Assert.That(r.Status, Is.EqualTo(1), r.ToString);
        Assert.That(r.Serial, Is.EqualTo("""
            cpuid: TSC yes, MSR yes
            tsc: 100 MHz over 200 PIT ticks halted, 100 MHz over 200 spinning: the same clock
            lapic: a 10 ms one-shot, halted, took 10 ms of TSC
            msr 0x10: reads the TSC: yes; a write sets it: yes
            tsc: one clock with the PIT and the APIC timer

            """.Replace("\r", "")));
    }

    [Test]
    public void Tsc_RunsAtTheMachinesInstructionRate()
    {
        // Twice the instruction rate, twice the TSC frequency against the same PIT: the rate is virtual time's.
        var config = new MiniHv.Hv.Machine.VmConfig
        {
            Name = "tsc",
            Image = File.ReadAllBytes(TestImages.TestKernel("tsc")),
            CommandLine = "tsc",
            InstructionsPerSecond = 200_000_000,
            MaxInstructions = 400_000_000,
        };
        using var machine = new MiniHv.Hv.Memory.MachineMemory(65536);
        var output = new List<byte>();
        using var vm = new MiniHv.Hv.Machine.Vm(config, machine, output.Add);
        vm.RunToEnd();
        Assert.That(System.Text.Encoding.ASCII.GetString(output.ToArray()),
            Does.Contain("tsc: 200 MHz over 200 PIT ticks halted, 200 MHz over 200 spinning: the same clock\n"));
    }
}
