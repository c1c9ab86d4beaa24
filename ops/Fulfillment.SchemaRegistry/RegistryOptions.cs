using System.ComponentModel.DataAnnotations;
using Fulfillment.Schemas.Compatibility;
using Prometheus;

namespace Fulfillment.SchemaRegistry;

/// <summary>Registry settings, bound from the <c>Registry</c> section (env <c>Registry__DefaultCompatibility</c>).</summary>
public sealed class RegistryOptions
{
    public const string Section = "Registry";

    /// <summary>Compatibility level used when neither the subject nor the global config sets one.</summary>
    [Required]
    [RegularExpression("(?i)^(NONE|BACKWARD|BACKWARD_TRANSITIVE|FORWARD|FORWARD_TRANSITIVE|FULL|FULL_TRANSITIVE)$",
        ErrorMessage = "Registry:DefaultCompatibility must be one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE")]
    public string DefaultCompatibility { get; set; } = "BACKWARD";

    internal CompatibilityLevel DefaultLevel =>
        SchemaCompatibility.TryParse(DefaultCompatibility, out var level) ? level.Value : CompatibilityLevel.Backward;
}

internal static class RegistryMetrics
{
    public static readonly Counter Registered = Metrics.CreateCounter(
        "fulfillment_schema_registry_schemas_registered_total", "New subject versions registered.");

    public static readonly Counter Rejected = Metrics.CreateCounter(
        "fulfillment_schema_registry_requests_rejected_total", "Requests answered with a registry error, by HTTP status and error code.",
        new CounterConfiguration { LabelNames = ["status", "error_code"] });
}
