namespace Fulfillment.Schemas.Topics;

/// <summary>Every topic the hub uses. The development broker pre-creates exactly these; compose creates them too.</summary>
public static class TopicCatalog
{
    /// <summary>All topics, in a stable order.</summary>
    public static IReadOnlyList<TopicSpec> All { get; } = [];
}
