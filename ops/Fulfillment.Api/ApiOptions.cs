using System.ComponentModel.DataAnnotations;
using Fulfillment.Schemas.Topics;

namespace Fulfillment.Api;

/// <summary>API settings, bound from the <c>Api</c> section.</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>Views schema the queries read (the views sink's <c>ViewsSink:Schema</c>).</summary>
    [Required]
    [RegularExpression("^[a-z_][a-z0-9_]{0,49}$")]
    public string Schema { get; set; } = "views";

    /// <summary>Who may call: one entry per tenant; a key sees and changes only the tenant's pools.</summary>
    public List<TenantOptions> Tenants { get; set; } = [];

    /// <summary>Topic operator commands are produced to.</summary>
    [Required]
    public string OperatorCommandsTopic { get; set; } = TopicCatalog.OperatorCommands.Name;

    /// <summary>Topic ship confirmations are produced to.</summary>
    [Required]
    public string ShipmentsTopic { get; set; } = TopicCatalog.Shipments.Name;
}

/// <summary>A tenant: the SHA-256 of its API key (hex, never the key itself) and the pools it owns.</summary>
public sealed class TenantOptions
{
    [Required]
    public string Name { get; set; } = "";

    [Required]
    [RegularExpression("^[0-9a-fA-F]{64}$")]
    public string KeySha256 { get; set; } = "";

    [MinLength(1)]
    public List<string> Pools { get; set; } = [];
}
