namespace Fulfillment.Processors.Runtime;

/// <summary>Handles one input record. Must be deterministic: everything it may depend on is the record, the stores and
/// <see cref="ProcessorContext.StreamTime"/>; results leave through <see cref="ProcessorContext.Forward{TKey, TValue}"/>.</summary>
public delegate void RecordHandler<TKey, TValue>(ProcessorContext context, InputRecord<TKey, TValue> record);

/// <summary>Runs on a schedule (stream time or wall-clock time); <paramref name="time"/> is the scheduled time.</summary>
public delegate void Punctuator(ProcessorContext context, DateTimeOffset time);

/// <summary>Whether a punctuator follows record timestamps (deterministic on replay) or the machine clock (not).</summary>
public enum PunctuationType
{
    StreamTime,
    WallClock,
}

/// <summary>A typed handle to a declared input topic (used by the test driver to pipe typed records).</summary>
public sealed class InputHandle<TKey, TValue>
{
    internal InputHandle(string topic, ISerde<TKey> keySerde, ISerde<TValue> valueSerde)
    {
        Topic = topic;
        KeySerde = keySerde;
        ValueSerde = valueSerde;
    }

    public string Topic { get; }

    public ISerde<TKey> KeySerde { get; }

    public ISerde<TValue> ValueSerde { get; }
}

/// <summary>A typed handle to a declared output topic.</summary>
public sealed class OutputHandle<TKey, TValue>
{
    internal OutputHandle(string topic, ISerde<TKey> keySerde, ISerde<TValue> valueSerde)
    {
        Topic = topic;
        KeySerde = keySerde;
        ValueSerde = valueSerde;
    }

    public string Topic { get; }

    public ISerde<TKey> KeySerde { get; }

    public ISerde<TValue> ValueSerde { get; }
}

/// <summary>A typed handle to a declared key-value store.</summary>
public sealed class StoreHandle<TKey, TValue>
{
    internal StoreHandle(int index, string name, ISerde<TKey> keySerde, ISerde<TValue> valueSerde)
    {
        Index = index;
        Name = name;
        KeySerde = keySerde;
        ValueSerde = valueSerde;
    }

    internal int Index { get; }

    public string Name { get; }

    public ISerde<TKey> KeySerde { get; }

    public ISerde<TValue> ValueSerde { get; }
}

/// <summary>One declared input topic: its position in the fixed topic order breaks timestamp ties.</summary>
internal sealed record InputDefinition(int Index, string Topic, Action<ProcessorContext, RawRecord> Dispatch);

internal sealed record StoreDefinition(int Index, string Name);

internal sealed record PunctuatorDefinition(int Index, string Name, PunctuationType Type, TimeSpan Interval, Punctuator Callback);

/// <summary>
/// Declares a processor: its co-partitioned input topics (same partition count, same key, murmur2 partitioner), state
/// stores, output topics, dead-letter topic and punctuators. One task runs per partition number; a task sees partition
/// <c>p</c> of every input topic and owns partition <c>p</c> of every store changelog.
/// <code>
/// var b = new TopologyBuilder("ledger");
/// var balances = b.AddStore("balances", Serdes.Utf8, Serdes.Int64);
/// var output = b.AddOutput("ledger-balances", Serdes.Utf8, Serdes.Int64);
/// b.AddInput("ledger-entries", Serdes.Utf8, Serdes.Int64, (ctx, r) =>
/// {
///     var store = ctx.Store(balances);
///     var balance = store.Get(r.Key) + r.Value;
///     store.Put(r.Key, balance);
///     ctx.Forward(output, r.Key, balance);
/// });
/// var topology = b.Build();
/// </code>
/// </summary>
public sealed class TopologyBuilder
{
    private readonly List<InputDefinition> _inputs = [];
    private readonly List<StoreDefinition> _stores = [];
    private readonly List<PunctuatorDefinition> _punctuators = [];
    private readonly HashSet<string> _outputs = new(StringComparer.Ordinal);
    private string? _deadLetterTopic;

    /// <param name="applicationId">Consumer group id and prefix of the changelog topics (<c>{applicationId}-{store}-changelog</c>).</param>
    public TopologyBuilder(string applicationId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(applicationId);
        ApplicationId = applicationId;
    }

    public string ApplicationId { get; }

    /// <summary>Declares an input topic. Declaration order is the fixed order that breaks timestamp ties in the merge.</summary>
    public InputHandle<TKey, TValue> AddInput<TKey, TValue>(
        string topic, ISerde<TKey> keySerde, ISerde<TValue> valueSerde, RecordHandler<TKey, TValue> handler)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        ArgumentNullException.ThrowIfNull(keySerde);
        ArgumentNullException.ThrowIfNull(valueSerde);
        ArgumentNullException.ThrowIfNull(handler);
        if (_inputs.Any(i => i.Topic == topic))
        {
            throw new ArgumentException($"Input topic '{topic}' is declared twice.", nameof(topic));
        }

        _inputs.Add(new InputDefinition(_inputs.Count, topic, (ctx, raw) =>
        {
            TKey key;
            TValue value;
            try
            {
                key = keySerde.Deserialize(raw.Key);
                value = valueSerde.Deserialize(raw.Value);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw new DeserializationException(ex);
            }

            handler(ctx, new InputRecord<TKey, TValue>(raw, key, value));
        }));
        return new InputHandle<TKey, TValue>(topic, keySerde, valueSerde);
    }

    /// <summary>Declares a key-value store. Its changelog topic must exist with the inputs' partition count.</summary>
    public StoreHandle<TKey, TValue> AddStore<TKey, TValue>(string name, ISerde<TKey> keySerde, ISerde<TValue> valueSerde)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(keySerde);
        ArgumentNullException.ThrowIfNull(valueSerde);
        if (_stores.Any(s => s.Name == name))
        {
            throw new ArgumentException($"Store '{name}' is declared twice.", nameof(name));
        }

        var definition = new StoreDefinition(_stores.Count, name);
        _stores.Add(definition);
        return new StoreHandle<TKey, TValue>(definition.Index, name, keySerde, valueSerde);
    }

    /// <summary>Declares an output topic; forwarding to an undeclared topic is an error (it would be a silent typo).</summary>
    public OutputHandle<TKey, TValue> AddOutput<TKey, TValue>(string topic, ISerde<TKey> keySerde, ISerde<TValue> valueSerde)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        _outputs.Add(topic);
        return new OutputHandle<TKey, TValue>(topic, keySerde, valueSerde);
    }

    /// <summary>Where records that fail to deserialize or make the handler throw go (default <c>{applicationId}-dlq</c>).</summary>
    public TopologyBuilder WithDeadLetterTopic(string topic)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        _deadLetterTopic = topic;
        return this;
    }

    /// <summary>Schedules <paramref name="callback"/> every <paramref name="interval"/> of stream time (record timestamps)
    /// or wall-clock time. Stream-time punctuation fires at interval boundaries and replays identically; wall-clock
    /// punctuation does not, so derive nothing that must be reproducible from it.</summary>
    public TopologyBuilder AddPunctuator(string name, PunctuationType type, TimeSpan interval, Punctuator callback)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(callback);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _punctuators.Add(new PunctuatorDefinition(_punctuators.Count, name, type, interval, callback));
        return this;
    }

    public Topology Build()
    {
        if (_inputs.Count == 0)
        {
            throw new InvalidOperationException("A topology needs at least one input topic.");
        }

        var deadLetter = _deadLetterTopic ?? ApplicationId + "-dlq";
        var outputs = new HashSet<string>(_outputs, StringComparer.Ordinal) { deadLetter };
        return new Topology(ApplicationId, [.. _inputs], [.. _stores], outputs, deadLetter, [.. _punctuators]);
    }
}

/// <summary>An immutable processor description, run by <see cref="StreamRuntime"/> or <see cref="TopologyTestDriver"/>.</summary>
public sealed class Topology
{
    internal Topology(
        string applicationId,
        IReadOnlyList<InputDefinition> inputs,
        IReadOnlyList<StoreDefinition> stores,
        IReadOnlySet<string> outputs,
        string deadLetterTopic,
        IReadOnlyList<PunctuatorDefinition> punctuators)
    {
        ApplicationId = applicationId;
        Inputs = inputs;
        Stores = stores;
        OutputTopics = outputs;
        DeadLetterTopic = deadLetterTopic;
        Punctuators = punctuators;
    }

    public string ApplicationId { get; }

    public IReadOnlySet<string> OutputTopics { get; }

    public string DeadLetterTopic { get; }

    public IReadOnlyList<string> InputTopics => [.. Inputs.Select(i => i.Topic)];

    public IReadOnlyList<string> StoreNames => [.. Stores.Select(s => s.Name)];

    internal IReadOnlyList<InputDefinition> Inputs { get; }

    internal IReadOnlyList<StoreDefinition> Stores { get; }

    internal IReadOnlyList<PunctuatorDefinition> Punctuators { get; }

    /// <summary>The changelog topic of <paramref name="store"/>: co-partitioned with the inputs, one partition per task.</summary>
    public string ChangelogTopic(string store) => $"{ApplicationId}-{store}-changelog";
}

/// <summary>A record's key or value could not be deserialized; it goes to the dead-letter topic.</summary>
public sealed class DeserializationException : Exception
{
    public DeserializationException(Exception inner)
        : base("Could not deserialize the record: " + inner?.Message, inner)
    {
    }

    public DeserializationException()
    {
    }

    public DeserializationException(string message)
        : base(message)
    {
    }

    public DeserializationException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
