using System.ComponentModel.DataAnnotations;

namespace Fulfillment.Processors.Worker;

/// <summary>Processor worker settings, section <c>Processor</c> (env <c>Processor__StateDirectory</c>, ...).</summary>
public sealed class ProcessorOptions
{
    public const string Section = "Processor";

    /// <summary>Root of the tasks' RocksDB state; one sub-directory per task. Losing it costs a restore from the changelogs, not data.</summary>
    [Required(AllowEmptyStrings = false)]
    public string StateDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "fulfillment-state");

    /// <summary>Consumer group and changelog prefix. Changing it starts the processor from scratch under new changelog topics.</summary>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression("^[a-zA-Z0-9._-]+$")]
    public string ApplicationId { get; set; } = Inventory.InventoryPoolTopology.DefaultApplicationId;

    /// <summary>Classic-group session timeout: how long a killed worker's pools wait before another worker takes them.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Threads processing pools in parallel (each pool's task on one thread at a time, so results do not depend
    /// on it). Default one per core: a single thread was the worker's throughput ceiling.</summary>
    [Range(1, 64)]
    public int ProcessingThreads { get; set; } = Environment.ProcessorCount;
}
