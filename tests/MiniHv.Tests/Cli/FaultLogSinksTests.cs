using System.Text.Json;
using MiniHv.Cli;
using MiniHv.Cpu;
using MiniHv.Hv.Faults;
using MiniHv.Tests.Faults;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Cli;

public class FaultLogSinksTests
{
    private const uint Eip = 0xf0100fff;

    private static FaultLog GuestLog(Serilog.ILogger logger)
    {
        var memory = new FakeLinearMemory().Put(Eip, FakeLinearMemory.Assemble(Eip, a => a.mov(edx, __dword_ptr[eax])));
        return new FaultLog("jos-1", 1, memory.Reader, logger, new FaultLogPolicy(FaultSampling.All, FaultSampling.All));
    }

    private static void TakeTwoFaults(FaultLog log)
    {
        log.OnException(new FaultRecord(Vectors.PF, 4, Eip, 0, 0x003fe000, 3, false), 4242);
        log.OnHiddenFault(FaultKind.CopyOnWriteBreak, new HiddenFaultSite(0x123, 0x00801004, Eip, 0x003fe000, 3, 5000));
    }

    [Test]
    public void JsonLines_ParseOneObjectPerFaultWithTheFaultsFields()
    {
        var console = new StringWriter();
        var json = new StringWriter();
        using (var logger = FaultLogSinks.ToWriters(console, json).CreateLogger())
            TakeTwoFaults(GuestLog(logger));

        string[] lines = json.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(2));
        using JsonDocument pf = JsonDocument.Parse(lines[0]);
        using JsonDocument cow = JsonDocument.Parse(lines[1]);
        JsonElement p = pf.RootElement, c = cow.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(p.GetProperty("@m").GetString(), Is.EqualTo(
                "[jos-1] #PF at eip f0100fff: read of unmapped 00000000 (user, not-present) cr3 003fe000 movl (%eax),%edx -> guest"));
            Assert.That(p.TryGetProperty("@t", out _), Is.True, "timestamp");
            Assert.That(p.TryGetProperty("@l", out _), Is.False, "Information is CLEF's default level");
            Assert.That(p.GetProperty("Guest").GetString(), Is.EqualTo("jos-1"));
            Assert.That(p.GetProperty("GuestId").GetInt32(), Is.EqualTo(1));
            Assert.That(p.GetProperty("Kind").GetString(), Is.EqualTo("page_fault"));
            Assert.That(p.GetProperty("Vector").GetInt32(), Is.EqualTo(14));
            Assert.That(p.GetProperty("Eip").GetUInt32(), Is.EqualTo(Eip));
            Assert.That(p.GetProperty("Cr2").GetUInt32(), Is.Zero);
            Assert.That(p.GetProperty("Cr3").GetUInt32(), Is.EqualTo(0x003fe000));
            Assert.That(p.GetProperty("Cpl").GetInt32(), Is.EqualTo(3));
            Assert.That(p.GetProperty("ErrorCode").GetInt32(), Is.EqualTo(4));
            Assert.That(p.GetProperty("PfPresent").GetBoolean(), Is.False);
            Assert.That(p.GetProperty("PfWrite").GetBoolean(), Is.False);
            Assert.That(p.GetProperty("PfUser").GetBoolean(), Is.True);
            Assert.That(p.GetProperty("Access").GetString(), Is.EqualTo("read"));
            Assert.That(p.GetProperty("InsnBytes").GetString(), Is.EqualTo("8b 10"));
            Assert.That(p.GetProperty("Disassembly").GetString(), Is.EqualTo("movl (%eax),%edx"));
            Assert.That(p.GetProperty("HandledBy").GetString(), Is.EqualTo("guest"));
            Assert.That(p.GetProperty("Instructions").GetInt64(), Is.EqualTo(4242));

            Assert.That(c.GetProperty("@l").GetString(), Is.EqualTo("Debug"));
            Assert.That(c.GetProperty("Kind").GetString(), Is.EqualTo("cow_break"));
            Assert.That(c.GetProperty("Vector").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(c.GetProperty("ErrorCode").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(c.GetProperty("Gfn").GetUInt32(), Is.EqualTo(0x123));
            Assert.That(c.GetProperty("Linear").GetUInt32(), Is.EqualTo(0x00801004));
            Assert.That(c.GetProperty("HandledBy").GetString(), Is.EqualTo("hypervisor"));
        });
    }

    [Test]
    public void ConsoleLines_AreTheHumanLinesAndNothingElse()
    {
        var console = new StringWriter();
        using (var logger = FaultLogSinks.ToWriters(console, json: null).CreateLogger())
            TakeTwoFaults(GuestLog(logger));

        Assert.That(console.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[]
        {
            "[jos-1] #PF at eip f0100fff: read of unmapped 00000000 (user, not-present) cr3 003fe000 movl (%eax),%edx -> guest",
            "[jos-1] cow break at eip f0100fff: write to shared gfn 00123 at 00801004 cr3 003fe000 movl (%eax),%edx -> hypervisor",
        }));
    }

    [Test]
    public void JsonFile_HoldsOneParsableObjectPerLineOnceTheLoggerIsDisposed()
    {
        string path = Path.Combine(Path.GetTempPath(), $"minihv-faults-{Guid.NewGuid():N}.json");
        try
        {
            using (var logger = FaultLogSinks.Configure(console: null, jsonPath: path).CreateLogger())
            {
                FaultLog log = GuestLog(logger);
                for (int i = 0; i < 3; i++)
                    TakeTwoFaults(log);
            }

            string[] lines = File.ReadAllLines(path);
            Assert.That(lines, Has.Length.EqualTo(6));
            var ordinals = lines.Select(l =>
            {
                using JsonDocument d = JsonDocument.Parse(l);
                return (d.RootElement.GetProperty("Kind").GetString(), d.RootElement.GetProperty("Ordinal").GetInt64());
            });
            Assert.That(ordinals, Is.EqualTo(new[]
            {
                ("page_fault", 1L), ("cow_break", 1L), ("page_fault", 2L), ("cow_break", 2L), ("page_fault", 3L), ("cow_break", 3L),
            }));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
