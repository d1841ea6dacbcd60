namespace MiniHv.Hv.Sharing;

/// <summary>Which guest frames may be merged with which (<c>--sharing</c>).</summary>
public enum SharingPolicy
{
    /// <summary>No scanning, no merging.</summary>
    Off,

    /// <summary>Identical frames are merged within one guest only.</summary>
    Guest,

    /// <summary>Identical frames are merged within and across all guests.</summary>
    All,

    /// <summary>Across guests of the same salt group only, so that guests that distrust each other never share a frame.</summary>
    Salted,
}
