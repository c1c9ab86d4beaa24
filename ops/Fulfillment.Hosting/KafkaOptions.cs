using System.ComponentModel.DataAnnotations;

namespace Fulfillment.Hosting;

/// <summary>Where Kafka is. Bound from the <c>Kafka</c> section (env <c>Kafka__BootstrapServers</c>).</summary>
public sealed class KafkaOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Kafka";

    /// <summary>Comma-separated host:port list.</summary>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression(@"^[^,\s]+:\d{1,5}(,[^,\s]+:\d{1,5})*$", ErrorMessage = "Kafka:BootstrapServers must be host:port[,host:port...]")]
    public string BootstrapServers { get; set; } = "";

    /// <summary>Schema registry base URL (Confluent protocol).</summary>
    [Url]
    public string? SchemaRegistryUrl { get; set; }
}
