using Avro;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>
/// The intake's two records written field by field in schema order, without Apache.Avro's schema-driven writer: the
/// generic writer walks the schema per value, boxes every int, enum and timestamp, tries each union branch by type and
/// allocates each string's bytes, which was about a tenth of the intake's CPU (bench webhooks); the raw record is also
/// written straight from the stored row, with no intermediate record or header byte arrays. The output is the generic
/// writer's byte for byte (property tests compare them). The writers follow the schemas as compiled in; if a schema
/// changes (its parsing fingerprint differs from the one written for), <see cref="RawRecordWritable"/> /
/// <see cref="OrderEventWritable"/> are false and the publisher uses the generic writer instead.
/// </summary>
public static class IngestAvro
{
    /// <summary>Parsing-form fingerprints (Rabin, 64 bit) of the schemas these writers were written for.</summary>
    public const long RawIngestRecordFingerprint = 7470148254262302528;

    /// <inheritdoc cref="RawIngestRecordFingerprint"/>
    public const long OrderEventFingerprint = 8421076432701915195;

    private const int MoneyScale = Money.Scale;

    /// <summary>Whether <see cref="WriteRawRecord"/> matches the compiled-in RawIngestRecord schema.</summary>
    public static bool RawRecordWritable { get; } = SchemaNormalization.ParsingFingerprint64(RawIngestRecord._SCHEMA) == RawIngestRecordFingerprint;

    /// <summary>Whether <see cref="WriteOrderEvent"/> matches the compiled-in OrderEvent schema.</summary>
    public static bool OrderEventWritable { get; } = SchemaNormalization.ParsingFingerprint64(OrderEvent._SCHEMA) == OrderEventFingerprint;

    /// <summary>The raw record of a stored delivery, as <see cref="EventPublisher.ToRawRecord"/> builds it, encoded.</summary>
    public static void WriteRawRecord(AvroBinaryWriter writer, RawDeliveryRow row, string? correlationId)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(row);
        // metadata
        writer.WriteString(row.RawEventId);
        writer.WriteString(row.PoolId ?? "unknown");
        writer.WriteString(correlationId ?? row.DeliveryId);
        writer.WriteString(row.DeliveryId);
        writer.WriteString(row.Source);
        writer.WriteString(row.DeliveryId);
        writer.WriteTimestampMillis(row.ReceivedAt);
        writer.WriteTimestampMillis(row.ReceivedAt);

        writer.WriteString(row.Source);
        writer.WriteString(row.DeliveryId);
        writer.WriteIndex((int)row.Transport);
        writer.WriteNullableString(row.EventType);
        writer.WriteNullableString(row.Method);
        writer.WriteNullableString(row.Path);
        var headers = row.Headers;
        if (headers.Count > 0)
        {
            writer.WriteLong(headers.Count);
            foreach (var (name, value) in headers)
            {
                writer.WriteString(name);
                // Kestrel decodes header bytes as Latin-1 unless told otherwise; encoding back the same way restores them.
                writer.WriteLatin1Bytes(value);
            }
        }

        writer.WriteLong(0);
        writer.WriteNullableString(row.ContentType);
        writer.WriteBytes(row.Body);
        writer.WriteTimestampMillis(row.ReceivedAt);
        writer.WriteBoolean(row.SignatureVerified);
        writer.WriteNullableString(row.RejectionReason);
    }

    /// <exception cref="AvroException">A required field is null or the body is not one of the union's records.</exception>
    public static void WriteOrderEvent(AvroBinaryWriter writer, OrderEvent value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        WriteMetadata(writer, value.metadata ?? throw new AvroException("OrderEvent.metadata is null."));
        switch (value.body)
        {
            case OrderPlaced placed:
                writer.WriteIndex(0);
                WriteOrder(writer, placed.order ?? throw new AvroException("OrderPlaced.order is null."));
                break;
            case OrderUpdated updated:
                writer.WriteIndex(1);
                WriteOrder(writer, updated.order ?? throw new AvroException("OrderUpdated.order is null."));
                break;
            case OrderCancelled cancelled:
                writer.WriteIndex(2);
                writer.WriteString(cancelled.order_id);
                writer.WriteIndex((int)cancelled.channel);
                writer.WriteString(cancelled.shop_id);
                writer.WriteString(cancelled.channel_order_id);
                writer.WriteNullableString(cancelled.reason);
                break;
            default:
                throw new AvroException($"OrderEvent.body is {value.body?.GetType().Name ?? "null"}, not one of the union's records.");
        }
    }

    private static void WriteMetadata(AvroBinaryWriter writer, EventMetadata m)
    {
        writer.WriteString(m.event_id);
        writer.WriteString(m.pool_id);
        writer.WriteString(m.correlation_id);
        writer.WriteString(m.causation_id);
        writer.WriteString(m.source_system);
        writer.WriteString(m.source_id);
        writer.WriteTimestampMillis(m.occurred_at);
        writer.WriteTimestampMillis(m.recorded_at);
    }

    private static void WriteOrder(AvroBinaryWriter writer, ChannelOrder o)
    {
        writer.WriteString(o.order_id);
        writer.WriteIndex((int)o.channel);
        writer.WriteString(o.shop_id);
        writer.WriteString(o.channel_order_id);
        writer.WriteNullableString(o.order_number);
        var lines = o.lines ?? throw new AvroException("ChannelOrder.lines is null.");
        if (lines.Count > 0)
        {
            writer.WriteLong(lines.Count);
            foreach (var line in lines)
            {
                WriteLine(writer, line ?? throw new AvroException("ChannelOrder.lines holds a null line."));
            }
        }

        writer.WriteLong(0);
        if (o.shipping_address is { } a)
        {
            writer.WriteIndex(1);
            WriteAddress(writer, a);
        }
        else
        {
            writer.WriteIndex(0);
        }

        writer.WriteIndex((int)o.requested_service_level);
        writer.WriteNullableString(o.requested_service_code);
        writer.WriteIndex((int)o.fulfillment_channel);
        writer.WriteInt(o.priority);
        writer.WriteTimestampMillis(o.placed_at);
        writer.WriteNullableString(o.currency);
        writer.WriteNullableString(o.marketplace_id);
        if (o.latest_ship_at is { } latest)
        {
            writer.WriteIndex(1);
            writer.WriteTimestampMillis(latest);
        }
        else
        {
            writer.WriteIndex(0);
        }

        writer.WriteNullableString(o.channel_status);
    }

    private static void WriteLine(AvroBinaryWriter writer, OrderLine l)
    {
        writer.WriteString(l.line_id);
        writer.WriteString(l.sku);
        writer.WriteInt(l.quantity);
        if (l.unit_price is { } price)
        {
            writer.WriteIndex(1);
            writer.WriteDecimal(price, MoneyScale);
        }
        else
        {
            writer.WriteIndex(0);
        }

        writer.WriteBoolean(l.is_bundle);
        writer.WriteBoolean(l.requires_shipping);
        writer.WriteNullableString(l.channel_product_id);
        var flags = l.flags ?? throw new AvroException("OrderLine.flags is null.");
        if (flags.Count > 0)
        {
            writer.WriteLong(flags.Count);
            foreach (var flag in flags)
            {
                writer.WriteIndex((int)flag);
            }
        }

        writer.WriteLong(0);
    }

    private static void WriteAddress(AvroBinaryWriter writer, Address a)
    {
        writer.WriteNullableString(a.name);
        writer.WriteNullableString(a.company);
        writer.WriteNullableString(a.line1);
        writer.WriteNullableString(a.line2);
        writer.WriteNullableString(a.city);
        writer.WriteNullableString(a.region);
        writer.WriteNullableString(a.postal_code);
        writer.WriteNullableString(a.country_code);
        writer.WriteNullableString(a.phone);
        WriteNullableDouble(writer, a.latitude);
        WriteNullableDouble(writer, a.longitude);
    }

    private static void WriteNullableDouble(AvroBinaryWriter writer, double? value)
    {
        if (value is { } v)
        {
            writer.WriteIndex(1);
            writer.WriteDouble(v);
        }
        else
        {
            writer.WriteIndex(0);
        }
    }
}
