using MiniHv.Hv.Devices.Apic;
using static MiniHv.Hv.Devices.Apic.LocalApicRegisters;

namespace MiniHv.Tests.Devices.Apic;

/// <summary>Interprocessor interrupts and I/O APIC messages between four local APICs, as a 4-processor guest has them.</summary>
public class ApicBusTests
{
    private const byte Vector = 0x40;

    private ApicBus _bus = null!;
    private LocalApic[] _apics = null!;
    private readonly List<string> _events = new();

    [SetUp]
    public void SetUp()
    {
        _bus = new ApicBus();
        _apics = new LocalApic[4];
        for (int i = 0; i < 4; i++)
        {
            _apics[i] = new LocalApic(apicId: (byte)i, bootstrap: i == 0);
            _apics[i].WriteMmio(SpuriousVector, 4, SvrEnable | 0xFF); // the APs' APICs start software-disabled
            _bus.Attach(_apics[i]);
        }

        _events.Clear();
        _bus.NmiRequested += i => _events.Add($"nmi {i}");
        _bus.InitRequested += i => _events.Add($"init {i}");
        _bus.StartupRequested += (i, v) => _events.Add($"startup {i} {v:x2}");
    }

    private void Send(int from, uint low, byte destination = 0)
    {
        _apics[from].WriteMmio(InterruptCommandHigh, 4, (uint)destination << 24);
        _apics[from].WriteMmio(InterruptCommandLow, 4, low);
    }

    private bool[] Requested(int vector = Vector) => _apics.Select(a => a.IsRequested(vector)).ToArray();

    private static uint Mode(ApicDeliveryMode mode) => (uint)mode << DeliveryModeShift;

    private static uint Shorthand(int s) => (uint)s << IcrShorthandShift;

    [Test]
    public void FixedIpi_PhysicalDestination_ReachesOnlyThatApic()
    {
        Send(0, Vector, destination: 2);
        Assert.That(Requested(), Is.EqualTo(new[] { false, false, true, false }));
        Assert.That(_bus.InterprocessorInterrupts, Is.EqualTo(1));
    }

    [Test]
    public void FixedIpi_PhysicalBroadcast_ReachesEveryApic()
    {
        Send(1, Vector, destination: 0xFF);
        Assert.That(Requested(), Is.EqualTo(new[] { true, true, true, true }));
    }

    [Test]
    public void FixedIpi_LogicalFlatDestination_ReachesTheApicsWhoseLdrBitIsSet()
    {
        for (int i = 0; i < 4; i++)
            _apics[i].WriteMmio(LogicalDestination, 4, (1u << i) << 24);
        Send(0, Vector | IcrLogical, destination: 0b1010);
        Assert.That(Requested(), Is.EqualTo(new[] { false, true, false, true }));
    }

    [Test]
    public void FixedIpi_LogicalClusterDestination_ReachesTheClusterMembersNamed()
    {
        for (int i = 0; i < 4; i++)
        {
            _apics[i].WriteMmio(DestinationFormat, 4, 0x0FFF_FFFF); // cluster model
            _apics[i].WriteMmio(LogicalDestination, 4, (uint)((i / 2) << 4 | 1 << (i % 2)) << 24); // clusters 0 and 1, two CPUs each
        }

        Send(0, Vector | IcrLogical, destination: 0x12); // cluster 1, second member
        Assert.That(Requested(), Is.EqualTo(new[] { false, false, false, true }));
    }

    [TestCase(1, new[] { false, true, false, false })]
    [TestCase(2, new[] { true, true, true, true })]
    [TestCase(3, new[] { true, false, true, true })]
    public void Shorthands_SelfAllAndAllButSelf(int shorthand, bool[] expected)
    {
        Send(1, Vector | Shorthand(shorthand), destination: 3); // the destination field is ignored with a shorthand
        Assert.That(Requested(), Is.EqualTo(expected));
    }

    [Test]
    public void LowestPriority_GoesToTheOneApicWithTheLowestPriority()
    {
        _apics[0].WriteMmio(TaskPriority, 4, 0x30);
        _apics[1].WriteMmio(TaskPriority, 4, 0x20);
        _apics[2].WriteMmio(TaskPriority, 4, 0x10);
        _apics[3].WriteMmio(TaskPriority, 4, 0x40);
        Send(0, Vector | Mode(ApicDeliveryMode.LowestPriority), destination: 0xFF);
        Assert.That(Requested(), Is.EqualTo(new[] { false, false, true, false }));
    }

    [Test]
    public void LowestPriority_OnATie_GoesToTheLowestApicId()
    {
        Send(3, Vector | Mode(ApicDeliveryMode.LowestPriority) | Shorthand(2));
        Assert.That(Requested(), Is.EqualTo(new[] { true, false, false, false }));
    }

    [Test]
    public void InitStartupAndNmi_GoToTheProcessorsThemselves()
    {
        Send(0, Mode(ApicDeliveryMode.Init) | IcrAssert | IcrLevelTriggered, destination: 1);
        Send(0, Mode(ApicDeliveryMode.Init) | IcrLevelTriggered, destination: 1); // level de-assert: nothing happens
        Send(0, 0x9A | Mode(ApicDeliveryMode.Startup), destination: 1);
        Send(0, Mode(ApicDeliveryMode.Nmi) | Shorthand(3));
        Assert.That(_events, Is.EqualTo(new[] { "init 1", "startup 1 9a", "nmi 1", "nmi 2", "nmi 3" }));
        Assert.That(Requested(0x9A), Is.All.False, "a STARTUP vector is a page number, not an interrupt");
    }

    [Test]
    public void IllegalVector_IsNotSentAndLatchesTheSendersError()
    {
        Send(0, 0x0F, destination: 1);
        _apics[0].WriteMmio(ErrorStatus, 4, 0);
        Assert.That(_apics[0].ReadMmio(ErrorStatus, 4), Is.EqualTo(EsrSendIllegalVector));
        Assert.That(_bus.InterprocessorInterrupts, Is.Zero);
    }

    [Test]
    public void ApplicationProcessorApic_StartsAsAtPowerUp_AndInitResetsAnApicButItsId()
    {
        var ap = new LocalApic(apicId: 5, bootstrap: false);
        Assert.That(ap.IsSoftwareEnabled, Is.False);
        Assert.That(ap.ReadMmio(LvtLint0, 4) & LvtMasked, Is.EqualTo(LvtMasked), "LINT0 masked: no virtual wire on an AP");
        Assert.That(ap.PassesExtInt, Is.False);

        ap.WriteMmio(SpuriousVector, 4, SvrEnable | 0xFF);
        ap.WriteMmio(TaskPriority, 4, 0x20);
        ap.WriteMmio(LvtTimer, 4, 0x20);
        ap.WriteMmio(TimerInitialCount, 4, 1000);
        ap.AcceptInterrupt(0x50);
        ap.Reset();
        Assert.That(ap.ApicId, Is.EqualTo(5));
        Assert.That(ap.IsSoftwareEnabled, Is.False);
        Assert.That(ap.TaskPriority, Is.Zero);
        Assert.That(ap.IsRequested(0x50), Is.False);
        Assert.That(ap.ReadMmio(TimerInitialCount, 4), Is.Zero);
        Assert.That(ap.InstructionsUntilNextEvent(), Is.EqualTo(long.MaxValue));
    }

    [TestCase(false, (byte)2, new[] { false, false, true, false })]
    [TestCase(true, (byte)0b0110, new[] { false, true, true, false })]
    public void IoApic_DeliversToTheDestinationItsEntryNames(bool logical, byte destination, bool[] expected)
    {
        for (int i = 0; i < 4; i++)
            _apics[i].WriteMmio(LogicalDestination, 4, (1u << i) << 24);
        var ioapic = new IoApic(_bus, id: 4);
        ioapic.WriteMmio(IoApic.RegisterSelect, 4, IoApic.RedirectionTableBase + 2 * 4);
        ioapic.WriteMmio(IoApic.RegisterWindow, 4, Vector | (logical ? (uint)IoApic.LogicalDestination : 0));
        ioapic.WriteMmio(IoApic.RegisterSelect, 4, IoApic.RedirectionTableBase + 2 * 4 + 1);
        ioapic.WriteMmio(IoApic.RegisterWindow, 4, (uint)destination << 24);
        ioapic.RaiseIrq(4);
        Assert.That(Requested(), Is.EqualTo(expected));
        Assert.That(ioapic.MessagesDelivered, Is.EqualTo(1));
    }

    [Test]
    public void IoApic_LowestPriorityEntry_GoesToOneProcessor()
    {
        _apics[0].WriteMmio(TaskPriority, 4, 0x50);
        var ioapic = new IoApic(_bus, id: 4);
        ioapic.WriteMmio(IoApic.RegisterSelect, 4, IoApic.RedirectionTableBase + 2 * 4);
        ioapic.WriteMmio(IoApic.RegisterWindow, 4, Vector | (uint)ApicDeliveryMode.LowestPriority << 8);
        ioapic.WriteMmio(IoApic.RegisterSelect, 4, IoApic.RedirectionTableBase + 2 * 4 + 1);
        ioapic.WriteMmio(IoApic.RegisterWindow, 4, 0xFFu << 24);
        ioapic.RaiseIrq(4);
        Assert.That(Requested(), Is.EqualTo(new[] { false, true, false, false }));
    }
}
