using Confluent.Kafka;
using Fulfillment.Processors.Runtime.State;

namespace Fulfillment.Processors.Runtime;

/// <summary>How output, state and offsets are made consistent.</summary>
public enum ProcessingGuarantee
{
    /// <summary>Follow the broker: <see cref="ExactlyOnceV2"/> on real Kafka, <see cref="AtLeastOnceIdempotent"/> on the
    /// development broker (librdkafka's mock cluster), where transactions exist but isolation does not.</summary>
    Auto,

    /// <summary>Effectively-once without transactions: idempotent producer, deterministic <c>event-id</c>s, state and
    /// input offsets stored atomically (locally and via changelog commit markers); after a crash the same records are
    /// reprocessed from the stored offsets and re-emit the same ids, which consumers dedupe.</summary>
    AtLeastOnceIdempotent,

    /// <summary>Kafka's exactly_once_v2: one transactional producer per runtime, offsets sent with the consumer group
    /// metadata, read_committed consumers. Ids stay deterministic, so consumers that dedupe need nothing else.</summary>
    ExactlyOnceV2,
}

/// <summary>What to do when local state claims offsets the broker does not have (a fresh, empty broker, or a topic
/// recreated under the same name).</summary>
public enum StaleStateHandling
{
    /// <summary>Log a warning, wipe the task's local state and rebuild it from the changelog and inputs. The default:
    /// the broker is the source of truth and processing is deterministic, so a re-seeded broker rebuilds the same state
    /// (ARCHITECTURE.md, the embedded stack re-seeds an empty broker).</summary>
    Rebuild,

    /// <summary>Throw, stopping the worker, so an operator decides.</summary>
    Fail,
}

public sealed class StreamRuntimeOptions
{
    /// <summary>bootstrap.servers.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>Where tasks keep their state (RocksDB by default, one directory per task).</summary>
    public required ITaskStorageFactory StorageFactory { get; init; }

    /// <summary>Identifies this worker in logs, client ids and the transactional id.</summary>
    public string InstanceId { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    public ProcessingGuarantee Guarantee { get; init; } = ProcessingGuarantee.Auto;

    /// <summary>How often state, changelogs and offsets are committed. Default: 100 ms with transactions (outputs become
    /// visible at commit), 1 s without (outputs are visible at once; fewer commits keep changelogs well under the
    /// development broker's per-partition retention cap, and a crash replays at most about this much).</summary>
    public TimeSpan? CommitInterval { get; init; }

    /// <summary>Classic-group session timeout: how long a killed worker's tasks wait before another takes them over.</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest the poll loop blocks when idle. Blocking in librdkafka costs no CPU; this only bounds how late
    /// shutdown and timers are noticed.</summary>
    public TimeSpan PollTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Buffered records per input partition at which the partition is paused (resumed at half).</summary>
    public int MaxBufferedRecordsPerPartition { get; init; } = 5000;

    /// <summary>How long a task with several inputs waits for an empty input that is not caught up before processing
    /// the others anyway (Kafka Streams' max.task.idle.ms): waiting keeps the timestamp merge deterministic.</summary>
    public TimeSpan MaxTaskIdle { get; init; } = TimeSpan.FromMilliseconds(100);

    public StaleStateHandling OnStaleState { get; init; } = StaleStateHandling.Rebuild;

    /// <summary>Threads that process buffered records (the poll thread is one of them). Each task is processed by one
    /// thread at a time, in the same record order whatever the count, so outputs, state and event ids per task do not
    /// depend on it. Above one, handlers of different tasks run concurrently: anything a topology shares between tasks
    /// must be thread-safe. One thread per core is the useful maximum; librdkafka's own threads need CPU too.</summary>
    public int ProcessingThreads { get; init; } = 1;

    /// <summary>Base consumer settings (e.g. Fulfillment.Hosting's KafkaDefaults.Consumer); the runtime overrides group,
    /// commit, offset-reset, assignment and isolation settings it depends on.</summary>
    public ConsumerConfig? ConsumerConfig { get; init; }

    /// <summary>Base producer settings (e.g. KafkaDefaults.Producer); the runtime forces idempotence, acks=all and
    /// murmur2 partitioning, and the transactional id in exactly-once mode.</summary>
    public ProducerConfig? ProducerConfig { get; init; }
}

/// <summary>A record or changelog the runtime needs is gone (retention), or local state contradicts the broker: the
/// worker stops instead of silently skipping.</summary>
public sealed class StreamRuntimeException : Exception
{
    public StreamRuntimeException()
    {
    }

    public StreamRuntimeException(string message)
        : base(message)
    {
    }

    public StreamRuntimeException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
