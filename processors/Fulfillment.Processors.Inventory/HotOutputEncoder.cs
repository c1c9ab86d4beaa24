using System.Collections.Concurrent;
using System.Globalization;
using Avro;
using Fulfillment.Processors.Inventory.Domain;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Stock;
using AvroAllocationDecided = Fulfillment.Schemas.Allocations.AllocationDecided;
using AvroStockLevelChanged = Fulfillment.Schemas.Stock.StockLevelChanged;
using DomainAllocationDecided = Fulfillment.Processors.Inventory.Domain.AllocationDecided;
using DomainStockLevelChanged = Fulfillment.Processors.Inventory.Domain.StockLevelChanged;

namespace Fulfillment.Processors.Inventory;

/// <summary>Where the outputs of one input record come from: what every output's metadata is made of.</summary>
/// <param name="Input">The input record's metadata.</param>
/// <param name="Pool">The pool (record key).</param>
/// <param name="SourceId"><c>{topic}/{partition}/{offset}</c> of the input record.</param>
/// <param name="RecordedAt">Stream time the record was decided at.</param>
internal readonly record struct OutputOrigin(EventMetadata Input, string Pool, string SourceId, DateTime RecordedAt);

/// <summary>
/// Writes the Confluent-framed Avro bytes of the outputs nearly every order produces — the allocation decision and a
/// stock level per line — straight from the decider's events into the serde's reused buffer. Why: building the
/// generated Avro objects (metadata, body, lines, channel entries, boxed ints and timestamps) and the composed id
/// strings only to walk them again was the largest part of what the processor allocated per order. The bytes are
/// those of <see cref="AvroMapping"/> + <see cref="SpecificAvroSerde{T}"/> (a property test compares them); any other
/// event, or a value this encoder does not cover, returns null and takes that path.
/// </summary>
internal sealed class HotOutputEncoder
{
    // Stack buffer for ids composed of several parts; longer ones are composed as strings.
    private const int MaxStackChars = 256;

    private readonly int _allocationsSchemaId;
    private readonly int _stockLevelsSchemaId;
    private readonly long _decidedBranch;
    private readonly long _levelBranch;
    private readonly LogicalSchema _timestampSchema;
    private readonly EnumSchema _channelSchema;
    private readonly ConcurrentDictionary<string, long> _channelOrdinals = new(StringComparer.Ordinal);

    private HotOutputEncoder(int allocationsSchemaId, int stockLevelsSchemaId)
    {
        _allocationsSchemaId = allocationsSchemaId;
        _stockLevelsSchemaId = stockLevelsSchemaId;
        _decidedBranch = Branch(AllocationEvent._SCHEMA, AvroAllocationDecided._SCHEMA.Fullname);
        _levelBranch = Branch(StockLevelEvent._SCHEMA, AvroStockLevelChanged._SCHEMA.Fullname);
        _timestampSchema = (LogicalSchema)((RecordSchema)EventMetadata._SCHEMA).Fields.Single(f => f.Name == "occurred_at").Schema;
        _channelSchema = (EnumSchema)((RecordSchema)ChannelStock._SCHEMA).Fields.Single(f => f.Name == "channel").Schema;
    }

    /// <summary>An encoder for these serdes, or null when they are not this assembly's Avro serdes (the generic path
    /// then serializes every output).</summary>
    public static HotOutputEncoder? TryCreate(InventoryPoolSerdes serdes) =>
        serdes.Allocations is SpecificAvroSerde<AllocationEvent> allocations && serdes.StockLevels is SpecificAvroSerde<StockLevelEvent> levels
            ? new HotOutputEncoder(allocations.SchemaId, levels.SchemaId)
            : null;

    /// <summary>Milliseconds since the epoch as the schema's timestamp-millis conversion computes them (once per input
    /// record, not per output).</summary>
    public long Millis(DateTime value) => (long)_timestampSchema.LogicalType.ConvertToBaseValue(value, _timestampSchema);

    /// <summary>The allocations-topic value of <paramref name="e"/>, or null when it is not an allocation decision.</summary>
    public byte[]? TryAllocation(InventoryEvent e, in OutputOrigin origin, int index, long occurredAt, long recordedAt)
    {
        if (e is not DomainAllocationDecided d || d.OrderId is null)
        {
            return null;
        }

        var buffer = AvroBuffer.Rent();
        buffer.WriteHeader(_allocationsSchemaId);
        WriteMetadata(buffer, origin, index, d.OrderId, null, occurredAt, recordedAt);
        buffer.WriteLong(_decidedBranch);
        buffer.WriteString(d.OrderId);
        buffer.WriteString(d.OrderId);
        if (d.Allocations.Count > 0)
        {
            buffer.WriteLong(d.Allocations.Count);
            foreach (var line in d.Allocations)
            {
                buffer.WriteString(line.LineId);
                buffer.WriteString(line.Sku);
                buffer.WriteString(line.LocationId);
                buffer.WriteLong(line.Quantity);
            }
        }

        buffer.WriteLong(0);
        if (d.RuleTrail.Count > 0)
        {
            buffer.WriteLong(d.RuleTrail.Count);
            foreach (var rule in d.RuleTrail)
            {
                buffer.WriteString(rule);
            }
        }

        buffer.WriteLong(0);
        return buffer.ToArray();
    }

    /// <summary>The stock-levels-topic value of <paramref name="e"/>, or null when it is not a stock level (or names a
    /// channel this encoder leaves to the generic path).</summary>
    public byte[]? TryStockLevel(InventoryEvent e, in OutputOrigin origin, int index, long occurredAt, long recordedAt)
    {
        if (e is not DomainStockLevelChanged l || l.Sku is null || l.LocationId is null)
        {
            return null;
        }

        var channels = 0;
        foreach (var c in l.ChannelAvailable)
        {
            switch (ChannelOrdinal(c.Channel))
            {
                case >= 0:
                    channels++;
                    break;
                case -1:
                    break;
                default:
                    return null;
            }
        }

        var buffer = AvroBuffer.Rent();
        buffer.WriteHeader(_stockLevelsSchemaId);
        WriteMetadata(buffer, origin, index, l.Sku, l.LocationId, occurredAt, recordedAt);
        buffer.WriteLong(_levelBranch);
        buffer.WriteString(l.Sku);
        buffer.WriteString(l.LocationId);
        buffer.WriteLong(l.OnHand);
        buffer.WriteLong(l.Allocated + l.Reserved);
        buffer.WriteLong(l.SafetyStock);
        buffer.WriteLong(l.Available);
        buffer.WriteLong(l.InTransit);
        if (channels > 0)
        {
            buffer.WriteLong(channels);
            foreach (var c in l.ChannelAvailable)
            {
                if (ChannelOrdinal(c.Channel) is var ordinal and >= 0)
                {
                    buffer.WriteLong(ordinal);
                    buffer.WriteString(c.ShopId ?? "");
                    buffer.WriteLong(c.Available);
                }
            }
        }

        buffer.WriteLong(0);
        return buffer.ToArray();
    }

    /// <summary>EventMetadata as the topology fills it: id <c>{input id}/{index}</c>, correlation the event's own
    /// (<paramref name="correlation"/>, or <c>{correlation}@{correlationSuffix}</c>), caused by the input event.</summary>
    private static void WriteMetadata(
        AvroBuffer buffer, in OutputOrigin origin, int index, string correlation, string? correlationSuffix, long occurredAt, long recordedAt)
    {
        var input = origin.Input;
        WriteComposite(buffer, input.event_id, '/', index);
        buffer.WriteString(origin.Pool);
        if (correlationSuffix is null)
        {
            buffer.WriteString(correlation);
        }
        else
        {
            WriteComposite(buffer, correlation, '@', correlationSuffix);
        }

        buffer.WriteString(input.event_id);
        buffer.WriteString(InventoryPoolTopology.SourceSystem);
        buffer.WriteString(origin.SourceId);
        buffer.WriteLong(occurredAt);
        buffer.WriteLong(recordedAt);
    }

    private static void WriteComposite(AvroBuffer buffer, string head, char separator, int number)
    {
        if (head.Length + 12 > MaxStackChars)
        {
            buffer.WriteString(string.Create(CultureInfo.InvariantCulture, $"{head}{separator}{number}"));
            return;
        }

        Span<char> chars = stackalloc char[MaxStackChars];
        head.CopyTo(chars);
        chars[head.Length] = separator;
        number.TryFormat(chars[(head.Length + 1)..], out var digits, default, CultureInfo.InvariantCulture);
        buffer.WriteString(chars[..(head.Length + 1 + digits)]);
    }

    private static void WriteComposite(AvroBuffer buffer, string head, char separator, string tail)
    {
        if (head.Length + tail.Length + 1 > MaxStackChars)
        {
            buffer.WriteString(string.Concat(head, separator.ToString(), tail));
            return;
        }

        Span<char> chars = stackalloc char[MaxStackChars];
        head.CopyTo(chars);
        chars[head.Length] = separator;
        tail.CopyTo(chars[(head.Length + 1)..]);
        buffer.WriteString(chars[..(head.Length + 1 + tail.Length)]);
    }

    /// <summary>The Avro ordinal of a channel name as <see cref="AvroMapping"/> maps it (<c>Enum.TryParse</c>): -1 for a
    /// name it skips, -2 for one only the generic path handles exactly (a parsed value that is not a symbol).</summary>
    private long ChannelOrdinal(string name) => _channelOrdinals.GetOrAdd(name, static (n, schema) =>
    {
        if (!Enum.TryParse<Channel>(n, out var channel))
        {
            return -1;
        }

        var symbol = channel.ToString();
        return schema.Contains(symbol) ? schema.Ordinal(symbol) : -2;
    }, _channelSchema);

    private static long Branch(Schema eventSchema, string bodyFullname)
    {
        var union = (UnionSchema)((RecordSchema)eventSchema).Fields.Single(f => f.Name == "body").Schema;
        for (var i = 0; i < union.Schemas.Count; i++)
        {
            if (union.Schemas[i] is RecordSchema r && r.Fullname == bodyFullname)
            {
                return i;
            }
        }

        throw new InvalidOperationException($"{bodyFullname} is not a branch of {((RecordSchema)eventSchema).Fullname}.body.");
    }
}
