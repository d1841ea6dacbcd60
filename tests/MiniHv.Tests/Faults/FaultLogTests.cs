using MiniHv.Cpu;
using MiniHv.Hv.Faults;
using Serilog.Events;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Faults;

public class FaultLogTests
{
    private const uint Eip = 0x00800040;
    private const uint Cr3 = 0x003fe000;

    private LogCapture _capture = null!;
    private FakeLinearMemory _memory = null!;

    [SetUp]
    public void SetUp()
    {
        _capture = new LogCapture();
        _memory = new FakeLinearMemory().Put(Eip, FakeLinearMemory.Assemble(Eip, a => a.mov(__dword_ptr[edx], eax)));
    }

    private FaultLog Log(FaultLogPolicy? policy = null, TimeProvider? time = null, int ring = FaultLog.DefaultRingCapacity)
        => new(new FaultEventBuilder("jos-1", 1, _memory.Reader), _capture.Logger, policy, ring, time);

    private static HiddenFaultSite Site(long instructions) => new(0x123, 0x00801004, Eip, Cr3, 3, instructions);

    private static FaultRecord Record(int vector, int errorCode = -1, uint cr2 = 0)
        => new(vector, errorCode, Eip, cr2, Cr3, 3, External: false);

    [Test]
    public void EveryNthHiddenFault_LogsTheFirstAndOneInN_AndCountsEveryOne()
    {
        FaultLog log = Log(new FaultLogPolicy(FaultSampling.All, FaultSampling.EveryNth(3)));

        for (int i = 0; i < 10; i++)
            log.OnHiddenFault(FaultKind.CopyOnWriteBreak, Site(i));

        Assert.Multiple(() =>
        {
            Assert.That(_capture.Events.Select(e => ((ScalarValue)e.Properties["Ordinal"]).Value), Is.EqualTo(new object[] { 1L, 4L, 7L, 10L }));
            Assert.That(log.Counters.Seen(FaultKind.CopyOnWriteBreak), Is.EqualTo(10));
            Assert.That(log.Counters.Logged(FaultKind.CopyOnWriteBreak), Is.EqualTo(4));
            Assert.That(log.Counters.HiddenTotal, Is.EqualTo(10));
        });
    }

    [Test]
    public void PerSecondHiddenFaults_AreLoggedAtMostNInEachSecond()
    {
        var clock = new ManualClock();
        FaultLog log = Log(new FaultLogPolicy(FaultSampling.All, FaultSampling.PerSecond(5)), clock);

        for (int i = 0; i < 12; i++)
            log.OnHiddenFault(FaultKind.ZeroFrameBreak, Site(i));
        clock.Advance(TimeSpan.FromMilliseconds(999));
        log.OnHiddenFault(FaultKind.ZeroFrameBreak, Site(12));
        int inFirstSecond = _capture.Events.Count;
        clock.Advance(TimeSpan.FromMilliseconds(1));
        for (int i = 0; i < 3; i++)
            log.OnHiddenFault(FaultKind.ZeroFrameBreak, Site(13 + i));

        Assert.Multiple(() =>
        {
            Assert.That(inFirstSecond, Is.EqualTo(5));
            Assert.That(_capture.Events, Has.Count.EqualTo(8), "three more in the next second");
            Assert.That(log.Counters.Seen(FaultKind.ZeroFrameBreak), Is.EqualTo(16));
        });
    }

    [Test]
    public void HiddenFaultsByDefault_AreCountedButNeitherReadNorLoggedNorKept()
    {
        FaultLog log = Log();

        for (int i = 0; i < 1000; i++)
            Assert.That(log.OnHiddenFault(FaultKind.AccessedDirtyUpdate, Site(i)), Is.Null);

        Assert.Multiple(() =>
        {
            Assert.That(log.Counters.Seen(FaultKind.AccessedDirtyUpdate), Is.EqualTo(1000));
            Assert.That(log.Counters.Logged(FaultKind.AccessedDirtyUpdate), Is.Zero);
            Assert.That(_memory.Reads, Is.Zero, "no instruction was read for a fault nobody logs");
            Assert.That(_capture.Events, Is.Empty);
            Assert.That(log.Recent.Snapshot(), Is.Empty);
        });
    }

    [Test]
    public void GuestExceptions_AreLoggedAndKeptByDefault()
    {
        FaultLog log = Log();

        log.OnException(Record(Vectors.PF, 6, cr2: 0x00801004), 10);
        log.OnException(Record(Vectors.GP, 0), 20);

        Assert.Multiple(() =>
        {
            Assert.That(_capture.Events, Has.Count.EqualTo(2));
            Assert.That(log.Recent.Snapshot().Select(e => e.Kind), Is.EqualTo(new[] { FaultKind.PageFault, FaultKind.GeneralProtection }));
            Assert.That(log.Counters.Seen(FaultKind.PageFault), Is.EqualTo(1));
            Assert.That(log.Counters.SeenVector(Vectors.GP), Is.EqualTo(1));
            Assert.That(log.Counters.GuestTotal, Is.EqualTo(2));
        });
    }

    [Test]
    public void GuestExceptionsNotLogged_AreStillKeptForTheTripleFaultDump()
    {
        FaultLog log = Log(new FaultLogPolicy(FaultSampling.None, FaultSampling.None));

        log.OnException(Record(Vectors.PF, 4), 1);
        log.OnException(Record(Vectors.DF, 0), 2);

        Assert.Multiple(() =>
        {
            Assert.That(_capture.Events, Is.Empty);
            Assert.That(log.Recent.Snapshot(), Has.Count.EqualTo(2));
        });
    }

    [Test]
    public void ExceptionKeptButNotLogged_ReadsLaterAsTheLoggedOne_WithTheInstructionOfItsTime()
    {
        // Unless an exception is logged it is kept as values and built when the ring is read: by then the code at
        // EIP may be gone, but the event must show what was there when the guest faulted.
        FaultLog logged = Log();
        var quiet = new FaultLog(new FaultEventBuilder("jos-1", 1, _memory.Reader), Serilog.Core.Logger.None);
        FaultRecord pf = Record(Vectors.PF, 7, cr2: 0x00801004);

        FaultEvent? written = logged.OnException(pf, 10);
        FaultEvent? kept = quiet.OnException(pf, 10);
        _memory.Put(Eip, FakeLinearMemory.Assemble(Eip, a => a.nop()));
        FaultEvent later = quiet.Recent.Snapshot().Single();

        Assert.Multiple(() =>
        {
            Assert.That(kept, Is.Null, "nothing built at the fault");
            Assert.That(FaultFormatter.Line(later), Is.EqualTo(FaultFormatter.Line(written!)));
            Assert.That(later.Instruction.HexBytes, Is.EqualTo(written!.Instruction.HexBytes));
            Assert.That(later with { Instruction = written.Instruction }, Is.EqualTo(written));
            Assert.That(quiet.Counters.Logged(FaultKind.PageFault), Is.EqualTo(1), "the policy picked it, as it did before");
        });
    }

    [Test]
    public void InterruptsAndSystemCalls_AreNeitherCountedNorKept()
    {
        FaultLog log = Log();

        Assert.That(log.OnException(Record(0x30), 1), Is.Null);
        Assert.That(log.OnException(Record(0x20), 2), Is.Null);

        Assert.Multiple(() =>
        {
            Assert.That(log.Counters.GuestTotal, Is.Zero);
            Assert.That(log.Recent.Added, Is.Zero);
        });
    }

    [Test]
    public void TripleFault_IsCountedOnceWithoutCountingItsVectorAgain()
    {
        FaultLog log = Log();
        FaultRecord last = Record(Vectors.GP, 0x42);

        log.OnException(last, 5);
        log.OnTripleFault(last, 5);

        Assert.Multiple(() =>
        {
            Assert.That(log.Counters.Seen(FaultKind.TripleFault), Is.EqualTo(1));
            Assert.That(log.Counters.SeenVector(Vectors.GP), Is.EqualTo(1));
            Assert.That(_capture.Events[1].Level, Is.EqualTo(LogEventLevel.Error));
        });
    }

    [Test]
    public void LoggedMessage_IsExactlyTheFormattersLine()
    {
        FaultLog log = Log(new FaultLogPolicy(FaultSampling.All, FaultSampling.All));

        var events = new List<FaultEvent?>
        {
            log.OnException(Record(Vectors.PF, 7, cr2: 0x00801004), 1),
            log.OnException(Record(Vectors.GP, 0x32), 2),
            log.OnException(Record(Vectors.UD), 3),
            log.OnTripleFault(Record(Vectors.PF, 2, cr2: 0xefffeffc), 4),
            log.OnHiddenFault(FaultKind.CopyOnWriteBreak, Site(5)),
            log.OnHiddenFault(FaultKind.PageTableWrite, new HiddenFaultSite(0x3fd, null, Eip, Cr3, 0, 6)),
        };

        Assert.That(_capture.Events.Select(e => e.RenderMessage()), Is.EqualTo(events.Select(e => FaultFormatter.Line(e!))));
    }

    [Test]
    public void PageFaultEvent_HasTheDocumentedProperties()
    {
        Log().OnException(Record(Vectors.PF, 6, cr2: 0x00801004), 77);

        Assert.Multiple(() =>
        {
            Assert.That(_capture.Events[0].Properties.Keys, Is.EquivalentTo(new[]
            {
                "Guest", "GuestId", "Kind", "Fault", "Vector", "Cr2", "Cr3", "Eip", "Cpl", "Cpu", "OnCpu", "ErrorCode", "External",
                "Access", "PfPresent", "PfWrite", "PfUser", "PfReserved", "PfFetch",
                "Detail", "Instruction", "InsnBytes", "Disassembly", "HandledBy", "Instructions", "Ordinal",
            }));
            Assert.That(_capture.Value(0, "Kind"), Is.EqualTo("page_fault"));
            Assert.That(_capture.Value(0, "Cr2"), Is.EqualTo(0x00801004u));
            Assert.That(_capture.Value(0, "Access"), Is.EqualTo("write"));
            Assert.That(_capture.Value(0, "PfUser"), Is.EqualTo(true));
            Assert.That(_capture.Value(0, "PfPresent"), Is.EqualTo(false));
            Assert.That(_capture.Value(0, "Disassembly"), Is.EqualTo("movl %eax,(%edx)"));
            Assert.That(_capture.Value(0, "Instructions"), Is.EqualTo(77L));
            Assert.That(_capture.Events[0].Level, Is.EqualTo(LogEventLevel.Information));
        });
    }

    [Test]
    public void HiddenFaultEvent_IsDebugWithItsFrameAndNoVector()
    {
        Log(new FaultLogPolicy(FaultSampling.All, FaultSampling.All)).OnHiddenFault(FaultKind.ZeroFrameBreak, Site(1));

        Assert.Multiple(() =>
        {
            Assert.That(_capture.Events[0].Level, Is.EqualTo(LogEventLevel.Debug));
            Assert.That(_capture.Value(0, "Gfn"), Is.EqualTo(0x123u));
            Assert.That(_capture.Value(0, "Linear"), Is.EqualTo(0x00801004u));
            Assert.That(_capture.Value(0, "Vector"), Is.Null);
            Assert.That(_capture.Value(0, "HandledBy"), Is.EqualTo("hypervisor"));
            Assert.That(_capture.Events[0].Properties.ContainsKey("PfWrite"), Is.False);
        });
    }

    [Test]
    public void PolicyForOneKind_OverridesTheHiddenDefault()
    {
        var policy = FaultLogPolicy.Default.Set(FaultKind.CopyOnWriteBreak, FaultSampling.All);
        FaultLog log = Log(policy);

        log.OnHiddenFault(FaultKind.CopyOnWriteBreak, Site(1));
        log.OnHiddenFault(FaultKind.ZeroFrameBreak, Site(2));

        Assert.That(_capture.Events.Select(e => ((ScalarValue)e.Properties["Kind"]).Value), Is.EqualTo(new[] { "cow_break" }));
    }

    [Test]
    public void AGuestKindPassedAsHidden_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Log().OnHiddenFault(FaultKind.PageFault, Site(0)));
    }
}
