namespace MiniHv.Hv.Sharing;

/// <summary>What the scanner asks of a guest's own thread, to be checked again and done there with the guest's CPU stopped.</summary>
internal enum MergeKind
{
    /// <summary>Put the guest frame on the zero frame if it is still private and all zero.</summary>
    Zero,

    /// <summary>Map the guest frame to <see cref="MergeRequest.Into"/> if the bytes are still equal.</summary>
    Join,

    /// <summary>
    /// Write-protect the guest frame and make it a stable frame if its checksum is still the one found, then
    /// ask the partners (the frames found equal to it meanwhile) to join it.
    /// </summary>
    Promote,
}

/// <summary>
/// One merge the scanner found, addressed to the guest that owns <see cref="Gfn"/>. A request for a stable
/// frame holds one reference to its machine frame, so the frame cannot be reused before the request is done.
/// </summary>
internal readonly record struct MergeRequest(MergeKind Kind, uint Gfn, StableFrame? Into = null, ulong Checksum = 0);
