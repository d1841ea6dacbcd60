namespace MiniHv.Hv.Machine;

/// <summary>
/// The guest's exclusive section for one processor's call, left when disposed (<c>using</c>): entered only while the
/// guest's processors run on threads of their own (<see cref="Vm.ThreadedRound"/>); taking turns, nothing.
/// </summary>
internal readonly struct ExclusiveScope : IDisposable
{
    private readonly Vm? _vm;
    private readonly VirtualCpu? _processor;

    public ExclusiveScope(Vm vm, VirtualCpu processor)
    {
        if (!vm.ThreadedRound)
            return;
        vm.EnterExclusive(processor);
        _vm = vm;
        _processor = processor;
    }

    public void Dispose() => _vm?.ExitExclusive(_processor!);
}
