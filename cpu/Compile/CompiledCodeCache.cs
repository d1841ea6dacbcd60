namespace MiniHv.Cpu;

/// <summary>
/// The blocks of one CPU that hold compiled code, oldest first, at most <see cref="Capacity"/>: installing one
/// more drops the oldest's code (it runs interpreted again, and may be compiled again if it stays hot).
/// Used by the compile thread only.
/// </summary>
internal sealed class CompiledCodeCache
{
    private readonly Queue<Block> _blocks = new();

    public CompiledCodeCache(int capacity) => Capacity = capacity;

    public int Capacity { get; }

    public int Count => _blocks.Count;

    public long Evicted { get; private set; }

    public void Add(Block block, CompiledBlock code)
    {
        while (_blocks.Count >= Capacity)
        {
            Block old = _blocks.Dequeue();
            old.Compiled = null;
            old.Hits = 0;
            Evicted++;
        }

        block.Compiled = code;
        _blocks.Enqueue(block);
    }
}
