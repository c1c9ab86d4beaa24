namespace Fulfillment.Processors.Runtime;

/// <summary>A Kafka record header (name and raw value).</summary>
public readonly record struct RecordHeader(string Key, byte[] Value);

/// <summary>Header names the runtime reads and writes.</summary>
public static class RuntimeHeaders
{
    /// <summary>Deterministic id of an output event; downstream consumers dedupe on it (ARCHITECTURE.md decision 5).</summary>
    public const string EventId = "event-id";

    /// <summary>Why a record went to the dead-letter topic: <c>deserialization</c> or <c>handler</c>.</summary>
    public const string DeadLetterReason = "dlq-reason";

    /// <summary>Exception type and message that sent a record to the dead-letter topic.</summary>
    public const string DeadLetterException = "dlq-exception";

    /// <summary>Where the dead-lettered record came from.</summary>
    public const string DeadLetterSourceTopic = "dlq-source-topic";

    /// <summary>Partition the dead-lettered record came from.</summary>
    public const string DeadLetterSourcePartition = "dlq-source-partition";

    /// <summary>Offset the dead-lettered record came from.</summary>
    public const string DeadLetterSourceOffset = "dlq-source-offset";

    /// <summary>Id of the commit a changelog record belongs to (runtime-internal).</summary>
    internal const string ChangelogCommit = "rt-commit";

    /// <summary>Marks the record closing a commit in a changelog (runtime-internal).</summary>
    internal const string ChangelogMarker = "rt-marker";

    /// <summary>Finds the last header named <paramref name="key"/>.</summary>
    public static byte[]? Find(IReadOnlyList<RecordHeader> headers, string key)
    {
        ArgumentNullException.ThrowIfNull(headers);
        for (var i = headers.Count - 1; i >= 0; i--)
        {
            if (headers[i].Key == key)
            {
                return headers[i].Value;
            }
        }

        return null;
    }
}

/// <summary>A typed input record as the handler sees it.</summary>
public sealed class InputRecord<TKey, TValue>
{
    internal InputRecord(RawRecord raw, TKey key, TValue value)
    {
        Raw = raw;
        Key = key;
        Value = value;
    }

    internal RawRecord Raw { get; }

    public TKey Key { get; }

    public TValue Value { get; }

    public string Topic => Raw.Topic;

    public int Partition => Raw.Partition;

    public long Offset => Raw.Offset;

    /// <summary>The record's Kafka timestamp; drives stream time.</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeMilliseconds(Raw.TimestampMs);

    public IReadOnlyList<RecordHeader> Headers => Raw.Headers;
}

/// <summary>A record as it came off a partition (bytes).</summary>
internal sealed record RawRecord(
    string Topic,
    int Partition,
    long Offset,
    long TimestampMs,
    byte[]? Key,
    byte[]? Value,
    IReadOnlyList<RecordHeader> Headers);

/// <summary>A record the topology emitted (bytes), before it is produced.</summary>
public sealed record OutputRecord(
    string Topic,
    byte[]? Key,
    byte[]? Value,
    IReadOnlyList<RecordHeader> Headers,
    DateTimeOffset Timestamp)
{
    /// <summary>The <c>event-id</c> header as text.</summary>
    public string? EventId =>
        RuntimeHeaders.Find(Headers, RuntimeHeaders.EventId) is { } id ? System.Text.Encoding.UTF8.GetString(id) : null;
}
