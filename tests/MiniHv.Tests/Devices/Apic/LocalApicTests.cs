using MiniHv.Hv.Devices;
using MiniHv.Hv.Devices.Apic;
using static MiniHv.Hv.Devices.Apic.LocalApicRegisters;

namespace MiniHv.Tests.Devices.Apic;

public class LocalApicTests
{
    // 1 GHz bus against 100 M instructions/s: ten bus ticks per instruction.
    private LocalApic _apic = null!;

    [SetUp]
    public void SetUp() => _apic = new LocalApic();

    private uint Read(uint register) => _apic.ReadMmio(register, 4);

    private void Write(uint register, uint value) => _apic.WriteMmio(register, 4, value);

    [Test]
    public void IdRegister_HoldsTheApicIdInBits31To24()
    {
        var apic = new LocalApic(apicId: 3);
        Assert.That(apic.ReadMmio(Id, 4), Is.EqualTo(0x0300_0000));

        apic.WriteMmio(Id, 4, 0x0512_3456);
        Assert.That(apic.ReadMmio(Id, 4), Is.EqualTo(0x0500_0000));
        Assert.That(apic.ApicId, Is.EqualTo(5));
    }

    [Test]
    public void Version_IsAnXApicWithSixLvtEntries()
    {
        uint version = Read(LocalApicRegisters.Version);
        Assert.That(version, Is.EqualTo(0x0005_0014));
        Assert.That(version >> 16 & 0xFF, Is.EqualTo(5), "max LVT entry");
    }

    [Test]
    public void Reset_LeavesVirtualWireMode()
    {
        Assert.That(Read(LocalApicRegisters.SpuriousVector), Is.EqualTo(0x1FF));
        Assert.That(Read(LvtLint0), Is.EqualTo(0x700), "ExtINT, unmasked");
        Assert.That(Read(LvtLint1), Is.EqualTo(0x400), "NMI, unmasked");
        Assert.That(Read(LvtTimer), Is.EqualTo(0x1_0000));
        Assert.That(Read(LvtThermal), Is.EqualTo(0x1_0000));
        Assert.That(Read(LvtPerformance), Is.EqualTo(0x1_0000));
        Assert.That(Read(LvtError), Is.EqualTo(0x1_0000));
        Assert.That(Read(DestinationFormat), Is.EqualTo(0xFFFF_FFFF));
        Assert.That(Read(LogicalDestination), Is.Zero);
        Assert.That(Read(LocalApicRegisters.TaskPriority), Is.Zero);
        Assert.That(Read(TimerDivideConfiguration), Is.Zero);
        Assert.That(_apic.HasPendingInterrupt, Is.False);
    }

    [Test]
    public void AcceptedInterrupt_MovesFromIrrToIsrOnAcknowledge()
    {
        _apic.AcceptInterrupt(0x41);
        Assert.That(Read(InterruptRequestBase + 0x20), Is.EqualTo(1u << 1), "IRR word 2 holds vectors 0x40-0x5F");
        Assert.That(_apic.HasPendingInterrupt, Is.True);

        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x41));
        Assert.That(Read(InterruptRequestBase + 0x20), Is.Zero);
        Assert.That(Read(InServiceBase + 0x20), Is.EqualTo(1u << 1));
        Assert.That(_apic.HasPendingInterrupt, Is.False);
    }

    [Test]
    public void HighestVectorIsServedFirst()
    {
        _apic.AcceptInterrupt(0x30);
        _apic.AcceptInterrupt(0xE5);
        _apic.AcceptInterrupt(0x81);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0xE5));
    }

    [Test]
    public void InServiceClass_HoldsOffItsOwnClassButNotAHigherOne()
    {
        _apic.AcceptInterrupt(0x31);
        _ = _apic.AcknowledgeInterrupt();

        _apic.AcceptInterrupt(0x35);
        Assert.That(_apic.HasPendingInterrupt, Is.False, "0x35 is in the class of 0x31, in service");
        Assert.That(Read(LocalApicRegisters.ProcessorPriority), Is.EqualTo(0x30));

        _apic.AcceptInterrupt(0x41);
        Assert.That(_apic.HasPendingInterrupt, Is.True);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x41));
    }

    [Test]
    public void Eoi_EndsTheHighestInServiceVector_AndLetsTheNextOneIn()
    {
        _apic.AcceptInterrupt(0x31);
        _ = _apic.AcknowledgeInterrupt();
        _apic.AcceptInterrupt(0x41);
        _ = _apic.AcknowledgeInterrupt();
        _apic.AcceptInterrupt(0x35);

        Write(EndOfInterrupt, 0);
        Assert.That(_apic.IsInService(0x41), Is.False);
        Assert.That(_apic.IsInService(0x31), Is.True);
        Assert.That(_apic.HasPendingInterrupt, Is.False);

        Write(EndOfInterrupt, 0);
        Assert.That(_apic.IsInService(0x31), Is.False);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x35));
    }

    [Test]
    public void Tpr_HoldsOffVectorsAtOrBelowItsClass()
    {
        Write(LocalApicRegisters.TaskPriority, 0x50);
        _apic.AcceptInterrupt(0x5F);
        Assert.That(_apic.HasPendingInterrupt, Is.False);
        Assert.That(Read(LocalApicRegisters.ProcessorPriority), Is.EqualTo(0x50));

        _apic.AcceptInterrupt(0x60);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x60));
        Assert.That(Read(LocalApicRegisters.ProcessorPriority), Is.EqualTo(0x60), "the in-service class is above the TPR");

        Write(LocalApicRegisters.TaskPriority, 0x72);
        Assert.That(Read(LocalApicRegisters.ProcessorPriority), Is.EqualTo(0x72));

        Write(EndOfInterrupt, 0);
        Write(LocalApicRegisters.TaskPriority, 0);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x5F));
    }

    [Test]
    public void AcknowledgeWithNothingToPresent_ReturnsTheSpuriousVectorAndLeavesIsrAlone()
    {
        Write(LocalApicRegisters.SpuriousVector, SvrEnable | 0x3F);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x3F));

        _apic.AcceptInterrupt(0x40);
        Write(LocalApicRegisters.TaskPriority, 0x40); // raised between the CPU seeing INTR and its INTA
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x3F));
        Assert.That(_apic.IsRequested(0x40), Is.True);
        Assert.That(Read(InServiceBase + 0x20), Is.Zero);
    }

    [Test]
    public void SoftwareDisabled_HoldsRequestsAndKeepsEveryLvtMasked()
    {
        Write(LvtTimer, 0x20);
        Write(LocalApicRegisters.SpuriousVector, 0xFF);
        Assert.That(Read(LvtTimer), Is.EqualTo(0x1_0020));
        Assert.That(Read(LvtLint0), Is.EqualTo(0x1_0700));

        Write(LvtError, 0x33);
        Assert.That(Read(LvtError), Is.EqualTo(0x1_0033), "the mask cannot be cleared while disabled");

        _apic.AcceptInterrupt(0x50);
        Assert.That(_apic.HasPendingInterrupt, Is.False);

        Write(LocalApicRegisters.SpuriousVector, SvrEnable | 0xFF);
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x50));
        Assert.That(Read(LvtTimer), Is.EqualTo(0x1_0020), "enabling does not unmask");
    }

    [Test]
    public void EoiOfALevelTriggeredVector_IsBroadcast_AndOfAnEdgeOneIsNot()
    {
        var broadcasts = new List<byte>();
        _apic.EndOfInterruptBroadcast += broadcasts.Add;

        _apic.AcceptInterrupt(0x40, levelTriggered: true);
        Assert.That(Read(TriggerModeBase + 0x20), Is.EqualTo(1u));
        _ = _apic.AcknowledgeInterrupt();
        Write(EndOfInterrupt, 0);

        _apic.AcceptInterrupt(0x40);
        Assert.That(Read(TriggerModeBase + 0x20), Is.Zero);
        _ = _apic.AcknowledgeInterrupt();
        Write(EndOfInterrupt, 0);

        Assert.That(broadcasts, Is.EqualTo(new byte[] { 0x40 }));
    }

    [Test]
    public void EoiWithNothingInService_DoesNothing()
    {
        Write(EndOfInterrupt, 0);
        Assert.That(Read(LocalApicRegisters.ProcessorPriority), Is.Zero);
        Assert.That(Read(ErrorStatus), Is.Zero);
    }

    [Test]
    public void Esr_ShowsErrorsOnlyAfterAWriteLatchesThem()
    {
        _apic.AcceptInterrupt(5);
        Assert.That(_apic.IsRequested(5), Is.False, "vectors 0-15 are illegal");
        Assert.That(Read(ErrorStatus), Is.Zero, "not latched yet");

        Write(ErrorStatus, 0);
        Assert.That(Read(ErrorStatus), Is.EqualTo(EsrReceiveIllegalVector));

        Write(ErrorStatus, 0);
        Assert.That(Read(ErrorStatus), Is.Zero, "no new errors since the last write");
    }

    [Test]
    public void ErrorLvt_RaisesItsVectorWhenAnErrorIsDetected()
    {
        Write(LvtError, 0x33);
        _ = Read(0x040); // a reserved register
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x33));
        Write(ErrorStatus, 0);
        Assert.That(Read(ErrorStatus), Is.EqualTo(EsrIllegalRegisterAddress));
    }

    [Test]
    public void SelfIpi_IsAcceptedAndTheSendCompletesAtOnce()
    {
        Write(InterruptCommandLow, 1u << IcrShorthandShift | 0x40);
        Assert.That(Read(InterruptCommandLow) & DeliveryPending, Is.Zero);
        Assert.That(Read(InterruptCommandLow), Is.EqualTo(1u << IcrShorthandShift | 0x40));
        Assert.That(_apic.AcknowledgeInterrupt(), Is.EqualTo(0x40));
    }

    [Test]
    public void FixedIpiToOwnApicIdOrBroadcast_ReachesThisCpu_ToAnotherIdDoesNot()
    {
        Write(InterruptCommandHigh, 0x0100_0000);
        Write(InterruptCommandLow, 0x41);
        Assert.That(_apic.HasPendingInterrupt, Is.False, "APIC ID 1 does not exist");

        Write(InterruptCommandHigh, 0);
        Write(InterruptCommandLow, 0x42);
        Write(InterruptCommandLow, 3u << IcrShorthandShift | 0x43); // all excluding self
        Write(InterruptCommandLow, 2u << IcrShorthandShift | 0x44); // all including self
        Assert.That(_apic.IsRequested(0x41), Is.False);
        Assert.That(_apic.IsRequested(0x42), Is.True);
        Assert.That(_apic.IsRequested(0x43), Is.False);
        Assert.That(_apic.IsRequested(0x44), Is.True);
    }

    [Test]
    public void InitAndStartupIpis_CompleteAndDoNothing()
    {
        // xv6's lapicinit: an INIT level de-assert to everyone, then wait for the delivery status to clear.
        Write(InterruptCommandHigh, 0);
        Write(InterruptCommandLow, 0x0008_0000 | 0x500 | 0x8000);
        Assert.That(Read(InterruptCommandLow) & DeliveryPending, Is.Zero);

        // The INIT-SIPI-SIPI sequence for an AP that does not exist.
        Write(InterruptCommandHigh, 0x0100_0000);
        Write(InterruptCommandLow, 0x500 | IcrAssert | IcrLevelTriggered);
        Write(InterruptCommandLow, 0x600 | 0x07);
        Write(InterruptCommandLow, 0x600 | 0x07);

        Assert.That(Read(InterruptCommandLow) & DeliveryPending, Is.Zero);
        Assert.That(_apic.HasPendingInterrupt, Is.False);
        Assert.That(_apic.InterruptCommandsSent, Is.EqualTo(4));
        Write(ErrorStatus, 0);
        Assert.That(Read(ErrorStatus), Is.Zero);
    }

    [Test]
    public void IpiWithAnIllegalVector_LatchesSendIllegalVector()
    {
        Write(InterruptCommandLow, 1u << IcrShorthandShift | 0x0F);
        Write(ErrorStatus, 0);
        Assert.That(Read(ErrorStatus), Is.EqualTo(EsrSendIllegalVector));
        Assert.That(_apic.HasPendingInterrupt, Is.False);
    }

    [Test]
    public void LogicalDestination_FlatModel_MatchesAnyCommonBit()
    {
        Write(LogicalDestination, 0x0400_0000);
        Assert.That(_apic.AcceptsDestination(0x04, logical: true), Is.True);
        Assert.That(_apic.AcceptsDestination(0x0F, logical: true), Is.True);
        Assert.That(_apic.AcceptsDestination(0x03, logical: true), Is.False);
        Assert.That(Read(LogicalDestination), Is.EqualTo(0x0400_0000));
    }

    [Test]
    public void LogicalDestination_ClusterModel_MatchesClusterAndMember()
    {
        Write(DestinationFormat, 0x0000_0000);
        Write(LogicalDestination, 0x2100_0000); // cluster 2, member bit 0
        Assert.That(Read(DestinationFormat), Is.EqualTo(0x0FFF_FFFF));
        Assert.That(_apic.AcceptsDestination(0x21, logical: true), Is.True);
        Assert.That(_apic.AcceptsDestination(0x23, logical: true), Is.True);
        Assert.That(_apic.AcceptsDestination(0x11, logical: true), Is.False, "another cluster");
        Assert.That(_apic.AcceptsDestination(0x22, logical: true), Is.False, "another member");
        Assert.That(_apic.AcceptsDestination(0xF1, logical: true), Is.True, "every cluster");
    }

    [Test]
    public void PhysicalDestination_MatchesTheApicIdOrBroadcast()
    {
        Assert.That(_apic.AcceptsDestination(0, logical: false), Is.True);
        Assert.That(_apic.AcceptsDestination(0xFF, logical: false), Is.True);
        Assert.That(_apic.AcceptsDestination(1, logical: false), Is.False);
    }

    [Test]
    public void NarrowReads_ReturnTheAddressedBytes_AndNarrowWritesAreIgnored()
    {
        var apic = new LocalApic(apicId: 0x12);
        Assert.That(apic.ReadMmio(Id + 3, 1), Is.EqualTo(0x12));
        Assert.That(apic.ReadMmio(Id + 2, 2), Is.EqualTo(0x1200));
        Assert.That(apic.ReadMmio(LocalApicRegisters.Version + 0, 2), Is.EqualTo(0x0014));
        Assert.That(apic.ReadMmio(LocalApicRegisters.Version + 4, 4), Is.Zero, "bytes 4-15 of a slot");

        apic.WriteMmio(Id + 3, 1, 0x34);
        apic.WriteMmio(Id + 4, 4, 0x3400_0000);
        Assert.That(apic.ApicId, Is.EqualTo(0x12));
    }

    [Test]
    public void EveryOffsetAndSize_NeverThrows()
    {
        var random = new Random(1234);
        Assert.DoesNotThrow(() =>
        {
            for (uint offset = 0; offset < LocalApic.WindowSize; offset++)
            {
                foreach (int size in new[] { 1, 2, 4 })
                {
                    _ = _apic.ReadMmio(offset, size);
                    _apic.WriteMmio(offset, size, (uint)random.Next() | (uint)random.Next(2) << 31);
                }
            }
            for (int i = 0; i < 1000; i++)
            {
                _ = _apic.AcknowledgeInterrupt();
                _apic.Advance(random.Next(1000));
                _ = _apic.InstructionsUntilNextEvent();
            }
        });
    }
}
