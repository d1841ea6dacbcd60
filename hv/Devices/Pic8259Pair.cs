using MiniHv.Cpu;

namespace MiniHv.Hv.Devices;

/// <summary>The PC's two 8259A interrupt controllers: master at 0x20/0x21, slave at 0xA0/0xA1 cascaded on master IR2.</summary>
/// <remarks>
/// Used by one VM's thread only. Before the guest initialises them the pair is left as a BIOS
/// leaves it (vectors 0x08 and 0x70, everything masked but the cascade), so a guest that enables
/// interrupts without programming the PIC takes none rather than a stray vector 8.
/// </remarks>
public sealed class Pic8259Pair : IInterruptController, IIrqLines, IPortDevice
{
    public const ushort MasterCommandPort = 0x20;
    public const ushort SlaveCommandPort = 0xA0;

    private const int CascadeIrq = 2;

    private readonly Chip _master = new(isMaster: true, vectorBase: 0x08, cascade: 1 << CascadeIrq, mask: 0xFB);
    private readonly Chip _slave = new(isMaster: false, vectorBase: 0x70, cascade: CascadeIrq, mask: 0xFF);

    // The slave's INT output as the master's IR2 input last saw it.
    private bool _cascadeLine;

    /// <summary>Interrupt request register, IRQ n at bit n (slave in the high byte).</summary>
    public ushort Irr => (ushort)(_master.Irr | _slave.Irr << 8);

    /// <summary>In-service register, IRQ n at bit n.</summary>
    public ushort Isr => (ushort)(_master.Isr | _slave.Isr << 8);

    /// <summary>Interrupt mask register, IRQ n at bit n.</summary>
    public ushort Imr => (ushort)(_master.Imr | _slave.Imr << 8);

    /// <summary>The vector of IRQ 0 (master) or IRQ 8 (slave) as ICW2 set it.</summary>
    public byte VectorBase(bool slave) => slave ? _slave.VectorBase : _master.VectorBase;

    public bool HasPendingInterrupt => _master.HighestRequest() >= 0;

    /// <summary>Claims 0x20-0x21 and 0xA0-0xA1.</summary>
    public void Attach(IoBus bus)
    {
        bus.Register(MasterCommandPort, 2, this);
        bus.Register(SlaveCommandPort, 2, this);
    }

    /// <summary>Drives IRQ <paramref name="irq"/> (0-15) high. IRQ 2 is the cascade, so it is redirected to IRQ 9 as on an AT.</summary>
    public void RaiseIrq(int irq) => SetIrq(irq, true);

    public void LowerIrq(int irq) => SetIrq(irq, false);

    public byte AcknowledgeInterrupt()
    {
        int irq = _master.HighestRequest();
        if (irq < 0)
            return (byte)(_master.VectorBase | 7); // spurious IRQ 7: the request went away before INTA; ISR untouched

        _master.Acknowledge(irq);
        if (!_master.IsCascade(irq))
            return (byte)(_master.VectorBase | irq);

        int slaveIrq = _slave.HighestRequest();
        byte vector;
        if (slaveIrq < 0)
        {
            vector = (byte)(_slave.VectorBase | 7); // spurious IRQ 15; the master's ISR bit 2 stays set, as on hardware
        }
        else
        {
            _slave.Acknowledge(slaveIrq);
            vector = (byte)(_slave.VectorBase | slaveIrq);
        }

        // INTA drops the slave's INT output; if more requests wait it rises again, a fresh edge for the master.
        _cascadeLine = false;
        _master.SetLine(CascadeIrq, false);
        UpdateCascade();
        return vector;
    }

    public uint ReadPort(ushort port, int size)
    {
        Chip chip = (port & 0x80) != 0 ? _slave : _master;
        byte value = (port & 1) != 0 ? chip.ReadData() : chip.ReadCommand();
        UpdateCascade(); // a poll read acknowledges
        return value;
    }

    public void WritePort(ushort port, int size, uint value)
    {
        Chip chip = (port & 0x80) != 0 ? _slave : _master;
        if ((port & 1) != 0)
            chip.WriteData((byte)value);
        else
            chip.WriteCommand((byte)value);
        UpdateCascade();
    }

    private void SetIrq(int irq, bool level)
    {
        if ((uint)irq > 15)
            throw new ArgumentOutOfRangeException(nameof(irq), irq, "ISA IRQs are 0-15");
        if (irq == CascadeIrq)
            irq = 9;
        if (irq < 8)
        {
            _master.SetLine(irq, level);
        }
        else
        {
            _slave.SetLine(irq - 8, level);
            UpdateCascade();
        }
    }

    private void UpdateCascade()
    {
        bool level = _slave.HighestRequest() >= 0;
        if (level == _cascadeLine)
            return;
        _cascadeLine = level;
        _master.SetLine(CascadeIrq, level);
    }

    /// <summary>One 8259A.</summary>
    private sealed class Chip
    {
        private readonly bool _isMaster;

        private byte _lines;      // input levels, for edge detection
        private byte _icw3;       // master: bit per IR with a slave; slave: its cascade identity
        private int _nextIcw;     // 0 when initialised, else the ICW (2, 3 or 4) the data port expects next
        private bool _needIcw4;
        private bool _single;
        private bool _levelTriggered;
        private bool _autoEoi;
        private bool _rotateOnAutoEoi;
        private bool _specialFullyNested;
        private bool _specialMask;
        private bool _readIsr;
        private bool _poll;
        private int _lowestPriority = 7;

        public Chip(bool isMaster, byte vectorBase, byte cascade, byte mask)
        {
            _isMaster = isMaster;
            VectorBase = vectorBase;
            _icw3 = cascade;
            Imr = mask;
        }

        public byte Irr { get; private set; }

        public byte Isr { get; private set; }

        public byte Imr { get; private set; }

        public byte VectorBase { get; private set; }

        public bool IsCascade(int irq) => _isMaster && !_single && (_icw3 & (1 << irq)) != 0;

        public void SetLine(int ir, bool level)
        {
            byte bit = (byte)(1 << ir);
            if (level)
            {
                if ((_lines & bit) == 0 || _levelTriggered)
                    Irr |= bit;
                _lines |= bit;
            }
            else
            {
                _lines &= (byte)~bit;
                if (_levelTriggered)
                    Irr &= (byte)~bit; // a level request lasts only while the line is high
            }
        }

        /// <summary>The IR the chip would present at INTA, or -1 when none may interrupt now.</summary>
        public int HighestRequest()
        {
            int requests = Irr & ~Imr;
            if (requests == 0)
                return -1;
            // In special mask mode a masked level in service no longer holds off lower levels.
            int blocking = _specialMask ? Isr & ~Imr : Isr;
            for (int i = 1; i <= 8; i++)
            {
                int ir = (_lowestPriority + i) & 7;
                int bit = 1 << ir;
                if ((blocking & bit) != 0)
                {
                    // Special fully nested mode lets a slave's higher request through its own in-service cascade.
                    return _specialFullyNested && IsCascade(ir) && (requests & bit) != 0 ? ir : -1;
                }
                if ((requests & bit) != 0)
                    return ir;
            }
            return -1;
        }

        public void Acknowledge(int ir)
        {
            byte bit = (byte)(1 << ir);
            if (!_levelTriggered)
                Irr &= (byte)~bit;
            if (_autoEoi)
            {
                if (_rotateOnAutoEoi)
                    _lowestPriority = ir;
            }
            else
            {
                Isr |= bit;
            }
        }

        public byte ReadCommand()
        {
            if (_poll)
                return Poll();
            return _readIsr ? Isr : Irr;
        }

        public byte ReadData() => _poll ? Poll() : Imr;

        public void WriteCommand(byte value)
        {
            if ((value & 0x10) != 0)
                Icw1(value);
            else if ((value & 0x08) != 0)
                Ocw3(value);
            else
                Ocw2(value);
        }

        public void WriteData(byte value)
        {
            switch (_nextIcw)
            {
                case 2:
                    VectorBase = (byte)(value & 0xF8);
                    _nextIcw = !_single ? 3 : _needIcw4 ? 4 : 0;
                    break;
                case 3:
                    _icw3 = value;
                    _nextIcw = _needIcw4 ? 4 : 0;
                    break;
                case 4:
                    _autoEoi = (value & 0x02) != 0;
                    _specialFullyNested = (value & 0x10) != 0;
                    _nextIcw = 0;
                    break;
                default:
                    Imr = value; // OCW1
                    break;
            }
        }

        private void Icw1(byte value)
        {
            _needIcw4 = (value & 0x01) != 0;
            _single = (value & 0x02) != 0;
            _levelTriggered = (value & 0x08) != 0;
            _nextIcw = 2;
            // Datasheet: the mask is cleared, IR7 gets lowest priority, special mask mode is off, status read is IRR,
            // and a request needs a fresh low-to-high edge.
            Imr = 0;
            Isr = 0;
            Irr = _levelTriggered ? _lines : (byte)0;
            _lowestPriority = 7;
            _specialMask = false;
            _readIsr = false;
            _poll = false;
            _rotateOnAutoEoi = false;
            if (!_needIcw4)
            {
                _autoEoi = false;
                _specialFullyNested = false;
            }
        }

        private void Ocw2(byte value)
        {
            int level = value & 7;
            switch (value >> 5)
            {
                case 0b000:
                    _rotateOnAutoEoi = false;
                    break;
                case 0b100:
                    _rotateOnAutoEoi = true;
                    break;
                case 0b001: // non-specific EOI
                    _ = EndHighestInService();
                    break;
                case 0b101: // rotate on non-specific EOI
                {
                    int ir = EndHighestInService();
                    if (ir >= 0)
                        _lowestPriority = ir;
                    break;
                }
                case 0b011: // specific EOI
                    Isr &= (byte)~(1 << level);
                    break;
                case 0b111: // rotate on specific EOI
                    Isr &= (byte)~(1 << level);
                    _lowestPriority = level;
                    break;
                case 0b110: // set priority
                    _lowestPriority = level;
                    break;
            }
        }

        private void Ocw3(byte value)
        {
            if ((value & 0x04) != 0)
                _poll = true;
            if ((value & 0x02) != 0)
                _readIsr = (value & 0x01) != 0;
            if ((value & 0x40) != 0)
                _specialMask = (value & 0x20) != 0;
        }

        /// <summary>Clears the highest-priority in-service bit (a non-specific EOI) and returns its IR, or -1.</summary>
        private int EndHighestInService()
        {
            for (int i = 1; i <= 8; i++)
            {
                int ir = (_lowestPriority + i) & 7;
                if ((Isr & (1 << ir)) != 0)
                {
                    Isr &= (byte)~(1 << ir);
                    return ir;
                }
            }
            return -1;
        }

        /// <summary>A read after an OCW3 poll command: acknowledges like INTA and returns 0x80 | IR, or 0 when none.</summary>
        private byte Poll()
        {
            _poll = false;
            int ir = HighestRequest();
            if (ir < 0)
                return 0;
            Acknowledge(ir);
            return (byte)(0x80 | ir);
        }
    }
}
