using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Fulfillment.Processors.Inventory.Domain;
using Fulfillment.Processors.Runtime;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.DeadLetters;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using Fulfillment.Schemas.Topics;

namespace Fulfillment.Processors.Inventory;

/// <summary>How the pool state is kept compact.</summary>
public sealed record InventoryPoolTopologyOptions
{
    /// <summary>
    /// A pool is snapshotted once the log since its last snapshot reaches this many bytes and the snapshot's size,
    /// whichever is larger: restore reads at most about twice the snapshot, and snapshots at most double the bytes
    /// written to the changelogs.
    /// </summary>
    public int MinSnapshotLogBytes { get; init; } = 64 * 1024;

    /// <summary>Largest snapshot part (one store value, one changelog record); well under Kafka's default 1 MB message limit.</summary>
    public int SnapshotPartBytes { get; init; } = 256 * 1024;
}

/// <summary>Topic names the inventory pool processor reads and writes (the catalog's, or unique ones in tests).</summary>
public sealed record InventoryPoolTopics(
    string Orders,
    string StockMovements,
    string Shipments,
    string OperatorCommands,
    string Allocations,
    string StockLevels,
    string DeadLetters)
{
    public static InventoryPoolTopics Catalog { get; } = new(
        TopicCatalog.Orders.Name,
        TopicCatalog.StockMovements.Name,
        TopicCatalog.Shipments.Name,
        TopicCatalog.OperatorCommands.Name,
        TopicCatalog.Allocations.Name,
        TopicCatalog.StockLevels.Name,
        TopicCatalog.DeadLetters.Name);

    public IEnumerable<string> All => [OperatorCommands, StockMovements, Orders, Shipments, Allocations, StockLevels, DeadLetters];
}

/// <summary>The Avro serdes of every topic the processor touches.</summary>
public sealed record InventoryPoolSerdes(
    ISerde<OrderEvent> Orders,
    ISerde<StockMovementEvent> StockMovements,
    ISerde<ShipmentEvent> Shipments,
    ISerde<OperatorCommand> OperatorCommands,
    ISerde<AllocationEvent> Allocations,
    ISerde<StockLevelEvent> StockLevels,
    ISerde<DeadLetter> DeadLetters)
{
    /// <summary>Confluent-framed serdes; <paramref name="schemaId"/> gives the registry id of each topic's value subject.</summary>
    public static InventoryPoolSerdes Create(InventoryPoolTopics topics, Func<string, int> schemaId)
    {
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(schemaId);
        return new(
            new SpecificAvroSerde<OrderEvent>(schemaId(topics.Orders + "-value")),
            new SpecificAvroSerde<StockMovementEvent>(schemaId(topics.StockMovements + "-value")),
            new SpecificAvroSerde<ShipmentEvent>(schemaId(topics.Shipments + "-value")),
            new SpecificAvroSerde<OperatorCommand>(schemaId(topics.OperatorCommands + "-value")),
            new SpecificAvroSerde<AllocationEvent>(schemaId(topics.Allocations + "-value")),
            new SpecificAvroSerde<StockLevelEvent>(schemaId(topics.StockLevels + "-value")),
            new SpecificAvroSerde<DeadLetter>(schemaId(topics.DeadLetters + "-value")));
    }
}

/// <summary>
/// The inventory pool processor: every pool-keyed input (operator commands, stock movements, orders, shipments —
/// co-partitioned, ARCHITECTURE decision 1) goes through the pool's decider; allocation outcomes go to the
/// allocations topic, stock levels, drift and ledger movements to the stock-levels topic, rejected commands to the
/// dead-letter topic.
/// <para>
/// Durable state per pool, bounded by what the pool holds rather than by its history: a compact snapshot of the
/// decider state (store <c>snapshots</c>, key pool + part; <see cref="PoolSnapshot"/>) plus the log of input records
/// since that snapshot (store <c>commands</c>, key pool + sequence, the commands each record mapped to and the stream
/// time they were decided at) and the sequence of the last record (store <c>sequence</c>). When the log since the
/// snapshot has grown as large as the snapshot itself (at least <see cref="InventoryPoolTopologyOptions.MinSnapshotLogBytes"/>),
/// a new snapshot replaces it and the log entries are deleted. So a restore reads at most about twice the snapshot,
/// compaction keeps the changelogs at the live keys, and the bytes written to them stay within about twice the log.
/// The decider's in-memory state is a cache per task and pool: whenever the stored sequence differs from the cached
/// one (first use, after a rebalance, after a failed record) it is rebuilt from the snapshot and the log after it —
/// the decider is deterministic, so this gives the same state.
/// </para>
/// </summary>
public sealed class InventoryPoolTopology
{
    public const string DefaultApplicationId = "fulfillment-inventory-pool";
    internal const string SourceSystem = "inventory-pool";

    // One per processing thread: the snapshot bytes are copied into store values before the stream is reused.
    [ThreadStatic]
    private static MemoryStream? _snapshotStream;

    private readonly ConcurrentDictionary<(int Partition, string Pool), CachedPool> _pools = new();
    private readonly InventoryPoolTopics _topics;
    private readonly string _applicationId;
    private readonly InventoryPoolTopologyOptions _options;
    private readonly HotOutputEncoder? _encoder;

    private InventoryPoolTopology(InventoryPoolTopics topics, InventoryPoolSerdes serdes, string applicationId, InventoryPoolTopologyOptions options)
    {
        _topics = topics;
        _applicationId = applicationId;
        _options = options;
        _encoder = HotOutputEncoder.TryCreate(serdes);
        var b = new TopologyBuilder(applicationId);
        Commands = b.AddStore("commands", LogKeySerde, Serdes.Bytes);
        Sequence = b.AddStore("sequence", Serdes.Utf8, Serdes.Int64);
        Snapshots = b.AddStore("snapshots", LogKeySerde, Serdes.Bytes);
        Allocations = b.AddOutput(topics.Allocations, Serdes.Utf8, serdes.Allocations);
        StockLevels = b.AddOutput(topics.StockLevels, Serdes.Utf8, serdes.StockLevels);
        DeadLetters = b.AddOutput(topics.DeadLetters, Serdes.Utf8, serdes.DeadLetters);
        b.WithDeadLetterTopic(topics.DeadLetters);

        // Declaration order breaks timestamp ties: configuration and stock before the orders that need them.
        OperatorCommands = b.AddInput(topics.OperatorCommands, Serdes.Utf8, serdes.OperatorCommands, (ctx, r) =>
            Handle(ctx, r.Key, r.Value.metadata, r.Topic, r.Partition, r.Offset, (state, into) => AvroMapping.ToCommands(r.Value, state, into)));
        StockMovements = b.AddInput(topics.StockMovements, Serdes.Utf8, serdes.StockMovements, (ctx, r) =>
            Handle(ctx, r.Key, r.Value.metadata, r.Topic, r.Partition, r.Offset, (_, into) => AvroMapping.ToCommands(r.Value, into)));
        Orders = b.AddInput(topics.Orders, Serdes.Utf8, serdes.Orders, (ctx, r) =>
            Handle(ctx, r.Key, r.Value.metadata, r.Topic, r.Partition, r.Offset, (state, into) => AvroMapping.ToCommands(r.Value, state, into)));
        Shipments = b.AddInput(topics.Shipments, Serdes.Utf8, serdes.Shipments, (ctx, r) =>
            Handle(ctx, r.Key, r.Value.metadata, r.Topic, r.Partition, r.Offset, (_, into) => AvroMapping.ToCommands(r.Value, into)));
        Topology = b.Build();
    }

    public static InventoryPoolTopology Build(
        InventoryPoolTopics topics,
        InventoryPoolSerdes serdes,
        string applicationId = DefaultApplicationId,
        InventoryPoolTopologyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(serdes);
        options ??= new InventoryPoolTopologyOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MinSnapshotLogBytes, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SnapshotPartBytes, 64);
        return new InventoryPoolTopology(topics, serdes, applicationId, options);
    }

    public Topology Topology { get; }

    public InputHandle<string, OperatorCommand> OperatorCommands { get; }

    public InputHandle<string, StockMovementEvent> StockMovements { get; }

    public InputHandle<string, OrderEvent> Orders { get; }

    public InputHandle<string, ShipmentEvent> Shipments { get; }

    public OutputHandle<string, AllocationEvent> Allocations { get; }

    public OutputHandle<string, StockLevelEvent> StockLevels { get; }

    public OutputHandle<string, DeadLetter> DeadLetters { get; }

    public StoreHandle<(string Pool, long Sequence), byte[]?> Commands { get; }

    public StoreHandle<string, long> Sequence { get; }

    /// <summary>Snapshot parts per pool: part 0 starts with the sequence it covers and the part count.</summary>
    public StoreHandle<(string Pool, long Part), byte[]?> Snapshots { get; }

    private void Handle(
        ProcessorContext ctx,
        string pool,
        EventMetadata metadata,
        string topic,
        int partition,
        long offset,
        Action<PoolState, List<InventoryCommand>> map)
    {
        var cached = Load(ctx, pool);
        // Reused per pool (a pool is handled by one thread at a time, and nothing keeps these lists past the record).
        var commands = cached.Commands;
        var outputs = cached.Outputs;
        commands.Clear();
        outputs.Clear();
        map(cached.State, commands);
        if (commands.Count == 0)
        {
            return;
        }

        var log = ctx.Store(Commands);
        var now = ctx.StreamTime;
        try
        {
            // One log entry per input record, however many lines (commands) it carries.
            var entry = CommandLog.Write(now, commands);
            foreach (var command in commands)
            {
                cached.Decider.Decide(cached.State, command, now, outputs);
            }

            cached.Length++;
            cached.LogBytes += entry.Length;
            if (cached.LogBytes >= Math.Max(_options.MinSnapshotLogBytes, cached.SnapshotBytes))
            {
                WriteSnapshot(ctx, pool, cached);
            }
            else
            {
                log.Put((pool, cached.Length), entry);
            }

            ctx.Store(Sequence).Put(pool, cached.Length);
            Forward(ctx, pool, metadata, topic, partition, offset, outputs);
        }
        catch
        {
            // The runtime drops this record's store writes; drop the cache too so the next record reloads the pool.
            _pools.TryRemove((ctx.Partition, pool), out _);
            throw;
        }
    }

    /// <summary>
    /// Replaces the pool's snapshot with its current state and deletes the log it covers. The snapshot is written in
    /// parts so no changelog record outgrows a broker's message size limit however large the pool.
    /// </summary>
    private void WriteSnapshot(ProcessorContext ctx, string pool, CachedPool cached)
    {
        var stream = _snapshotStream ??= new MemoryStream();
        stream.SetLength(0);
        PoolSnapshot.WriteTo(cached.State, stream);
        var state = stream.GetBuffer().AsSpan(0, (int)stream.Length);
        var size = _options.SnapshotPartBytes;
        var parts = Math.Max(1, (state.Length + size - 1) / size);
        var store = ctx.Store(Snapshots);
        for (var part = 0; part < parts; part++)
        {
            var chunk = state.Slice(part * size, Math.Min(size, state.Length - (part * size)));
            byte[] value;
            if (part == 0)
            {
                value = new byte[12 + chunk.Length];
                BinaryPrimitives.WriteInt64BigEndian(value, cached.Length);
                BinaryPrimitives.WriteInt32BigEndian(value.AsSpan(8), parts);
                chunk.CopyTo(value.AsSpan(12));
            }
            else
            {
                value = chunk.ToArray();
            }

            store.Put((pool, part), value);
        }

        for (var part = parts; part < cached.SnapshotParts; part++)
        {
            store.Delete((pool, part));
        }

        var log = ctx.Store(Commands);
        for (var seq = cached.SnapshotAt + 1; seq < cached.Length; seq++)
        {
            log.Delete((pool, seq));
        }

        cached.SnapshotAt = cached.Length;
        cached.SnapshotParts = parts;
        cached.SnapshotBytes = state.Length;
        cached.LogBytes = 0;
    }

    private CachedPool Load(ProcessorContext ctx, string pool)
    {
        var stored = ctx.Store(Sequence).GetOrDefault(pool, 0);
        if (_pools.TryGetValue((ctx.Partition, pool), out var cached) && cached.Length == stored)
        {
            return cached;
        }

        cached = ReadSnapshot(ctx, pool);
        var log = ctx.Store(Commands);
        var discard = new List<InventoryEvent>();
        for (var seq = cached.SnapshotAt + 1; seq <= stored; seq++)
        {
            if (!log.TryGet((pool, seq), out var bytes) || bytes is null)
            {
                throw new InvalidDataException($"Entry {seq} of the log of pool {pool} is missing (snapshot at {cached.SnapshotAt}, sequence {stored}).");
            }

            var logged = CommandLog.Read(bytes);
            foreach (var command in logged.Commands)
            {
                discard.Clear();
                cached.Decider.Decide(cached.State, command, logged.At, discard);
            }

            cached.Length = seq;
            cached.LogBytes += bytes.Length;
        }

        if (cached.Length != stored)
        {
            throw new InvalidDataException($"Pool {pool} restored to sequence {cached.Length}, its stored sequence is {stored}.");
        }

        _pools[(ctx.Partition, pool)] = cached;
        return cached;
    }

    private CachedPool ReadSnapshot(ProcessorContext ctx, string pool)
    {
        var store = ctx.Store(Snapshots);
        if (!store.TryGet((pool, 0), out var head) || head is null)
        {
            return new CachedPool(new PoolState());
        }

        if (head.Length < 12)
        {
            throw new InvalidDataException($"Snapshot of pool {pool} has a truncated header.");
        }

        var at = BinaryPrimitives.ReadInt64BigEndian(head);
        var parts = BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(8));
        using var bytes = new MemoryStream();
        bytes.Write(head, 12, head.Length - 12);
        for (var part = 1; part < parts; part++)
        {
            if (!store.TryGet((pool, part), out var chunk) || chunk is null)
            {
                throw new InvalidDataException($"Part {part} of {parts} of the snapshot of pool {pool} is missing.");
            }

            bytes.Write(chunk);
        }

        var size = (int)bytes.Length;
        return new CachedPool(PoolSnapshot.Read(bytes.GetBuffer().AsMemory(0, size)))
        {
            Length = at,
            SnapshotAt = at,
            SnapshotParts = parts,
            SnapshotBytes = size,
        };
    }

    private void Forward(ProcessorContext ctx, string pool, EventMetadata input, string topic, int partition, long offset, List<InventoryEvent> outputs)
    {
        if (outputs.Count == 0)
        {
            return;
        }

        // Shared by the outputs of this record: the key bytes (the producer copies them), the source id, the timestamps.
        var key = Encoding.UTF8.GetBytes(pool);
        var origin = new OutputOrigin(input, pool, string.Create(CultureInfo.InvariantCulture, $"{topic}/{partition}/{offset}"), ctx.StreamTime.UtcDateTime);
        long occurredAt = 0, recordedAt = 0;
        if (_encoder is not null)
        {
            occurredAt = _encoder.Millis(input.occurred_at);
            recordedAt = _encoder.Millis(origin.RecordedAt);
        }

        for (var i = 0; i < outputs.Count; i++)
        {
            var e = outputs[i];
            if (_encoder is not null)
            {
                if (_encoder.TryStockLevel(e, origin, i, occurredAt, recordedAt) is { } level)
                {
                    ctx.Forward(StockLevels.Topic, key, level);
                    continue;
                }

                if (_encoder.TryAllocation(e, origin, i, occurredAt, recordedAt) is { } decided)
                {
                    ctx.Forward(Allocations.Topic, key, decided);
                    continue;
                }
            }

            var metadata = new EventMetadata
            {
                event_id = $"{input.event_id}/{i}",
                pool_id = pool,
                correlation_id = CorrelationOf(e) ?? input.correlation_id,
                causation_id = input.event_id,
                source_system = SourceSystem,
                source_id = origin.SourceId,
                occurred_at = input.occurred_at,
                recorded_at = origin.RecordedAt,
            };
            if (AvroMapping.ToAllocationEvent(e, metadata) is { } allocation)
            {
                ctx.Forward(Allocations, pool, allocation);
            }
            else if (AvroMapping.ToStockLevelEvent(e, metadata) is { } level)
            {
                ctx.Forward(StockLevels, pool, level);
            }
            else if (e is CommandRejected rejected)
            {
                ctx.Forward(DeadLetters, pool, new DeadLetter
                {
                    metadata = metadata,
                    source_topic = topic,
                    source_partition = partition,
                    source_offset = offset,
                    key = Encoding.UTF8.GetBytes(pool),
                    value = null,
                    headers = [],
                    reason = $"{rejected.Command} {rejected.Reference}: {rejected.Reason}",
                    error_type = "inventory.rejected",
                    failed_at = ctx.StreamTime.UtcDateTime,
                    consumer_group = _applicationId,
                });
            }

            // Shipments recorded, transfer states and bundle availability have no topic yet.
        }
    }

    private static string? CorrelationOf(InventoryEvent e) => e switch
    {
        Domain.AllocationDecided d => d.OrderId,
        Domain.OrderBackordered b => b.OrderId,
        Domain.AllocationReleased r => r.OrderId,
        Domain.StockLevelChanged l => $"{l.Sku}@{l.LocationId}",
        Domain.DriftDetected d => $"{d.Sku}@{d.LocationId}",
        Domain.StockMoved m => m.Reference,
        CommandRejected r => r.Reference,
        _ => null,
    };

    /// <summary>Topics the processor needs besides <see cref="InventoryPoolTopics"/>: its store changelogs.</summary>
    public IEnumerable<string> ChangelogTopics => Topology.StoreNames.Select(Topology.ChangelogTopic);

    public InventoryPoolTopics Topics => _topics;

    /// <summary>Drops every cached pool state, as a restart would; the next record of each pool reloads it.</summary>
    internal void ForgetCachedState() => _pools.Clear();

    private static readonly ISerde<(string Pool, long Sequence)> LogKeySerde = Serdes.Create<(string Pool, long Sequence)>(
        key =>
        {
            // Pool, a zero byte, then the big-endian sequence: byte order sorts a pool's log in sequence order.
            var pool = Encoding.UTF8.GetBytes(key.Pool);
            var bytes = new byte[pool.Length + 9];
            pool.CopyTo(bytes, 0);
            BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(pool.Length + 1), key.Sequence);
            return bytes;
        },
        bytes =>
        {
            if (bytes is null || bytes.Length < 9 || bytes[^9] != 0)
            {
                throw new FormatException("Not a command log key.");
            }

            return (Encoding.UTF8.GetString(bytes, 0, bytes.Length - 9), BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(bytes.Length - 8)));
        });

    private sealed class CachedPool(PoolState state)
    {
        public PoolState State { get; } = state;

        public InventoryDecider Decider { get; } = new();

        public List<InventoryCommand> Commands { get; } = new(1);

        public List<InventoryEvent> Outputs { get; } = new(16);

        /// <summary>Sequence of the last input record applied.</summary>
        public long Length { get; set; }

        /// <summary>Sequence the stored snapshot covers (0 = none); the log holds the entries after it.</summary>
        public long SnapshotAt { get; set; }

        public int SnapshotParts { get; set; }

        public int SnapshotBytes { get; set; }

        /// <summary>Bytes of the log entries after the snapshot.</summary>
        public long LogBytes { get; set; }
    }
}
