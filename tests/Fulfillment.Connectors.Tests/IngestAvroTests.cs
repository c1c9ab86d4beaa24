using Avro;
using Avro.IO;
using Avro.Specific;
using CsCheck;
using Fulfillment.Connectors.Channels;
using Fulfillment.Connectors.Webhooks;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Tests;

/// <summary>
/// The intake's direct Avro writers must write exactly what Apache.Avro's generic writer writes for the same record:
/// consumers (and replays of the raw topic) cannot tell which one produced a record.
/// </summary>
public class IngestAvroTests
{
    private static readonly string[] Texts = ["", "a", "shopify", "orders/create", "élan", "日本倉庫", "📦 box", "x/y@z#1", new string('L', 300)];

    private static readonly Gen<string> Text = Gen.OneOf(Gen.OneOfConst(Texts), Gen.String[Gen.Char, 0, 40]);

    private static readonly Gen<string?> NullableText = Gen.OneOf(Gen.Const((string?)null), Text.Select(t => (string?)t));

    // Header values as Kestrel gives them: Latin-1 decoded bytes, plus characters Latin-1 cannot hold (written as '?').
    private static readonly Gen<KeyValuePair<string, string>> HeaderGen =
        Gen.Select(Text, Gen.OneOf(Gen.String[Gen.Char['\0', '\u00FF'], 0, 60], Text)).Select((n, v) => new KeyValuePair<string, string>(n, v));

    // Any instant in Avro's range, any kind (the generic writer converts local and unspecified times to UTC first).
    private static readonly Gen<DateTime> Time =
        Gen.Select(Gen.Long[-62_135_596_800_000L / 10, 253_402_300_799_000L / 10], Gen.Int[0, 9999], Gen.Int[0, 2])
            .Select((ms, ticks, kind) => DateTime.SpecifyKind(DateTime.UnixEpoch.AddMilliseconds(ms).AddTicks(ticks), (DateTimeKind)kind));

    private static readonly Gen<RawDeliveryRow> Row =
        Gen.Select(
            Gen.Select(Gen.Guid, Text, Text, Gen.Bool, Gen.Enum<DeliveryStatus>(), NullableText, NullableText, Gen.Enum<IngestTransport>()),
            Gen.Select(NullableText, Text, Text, NullableText, NullableText, HeaderGen.List[0, 8], Gen.Byte.Array[0, 3000]),
            Gen.Select(Time, Gen.Bool, NullableText))
        .Select((a, b, c) => new RawDeliveryRow(a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, a.Item6, a.Item7, a.Item8,
            b.Item1, b.Item2, b.Item3, b.Item4, b.Item5, b.Item6, b.Item7, c.Item1, c.Item2, c.Item3));

    private static readonly Gen<EventMetadata> Metadata =
        Gen.Select(Text, Text, Text, Text, Text, Text, Time, Time).Select((id, pool, correlation, causation, system, sourceId, occurred, recorded) =>
            new EventMetadata
            {
                event_id = id,
                pool_id = pool,
                correlation_id = correlation,
                causation_id = causation,
                source_system = system,
                source_id = sourceId,
                occurred_at = occurred,
                recorded_at = recorded,
            });

    // Money as Money.ToAvro makes it: up to four decimals, fewer than 15 integer digits, either sign.
    private static readonly Gen<AvroDecimal?> Price = Gen.OneOf(
        Gen.Const((AvroDecimal?)null),
        Gen.Long[-99_999_999_999_999_9999L / 10, 99_999_999_999_999_9999L / 10].Select(units => (AvroDecimal?)Money.ToAvro(units / 10_000m)),
        Gen.OneOfConst(0m, 0.0001m, -0.0001m, 19.99m, -1m, 99_999_999_999_999.9999m, -99_999_999_999_999.9999m).Select(m => (AvroDecimal?)Money.ToAvro(m)));

    private static readonly Gen<OrderLine> Line =
        Gen.Select(Text, Text, Gen.Int, Price, Gen.Bool, Gen.Bool, NullableText, Gen.Enum<OrderLineFlag>().List[0, 4])
            .Select((id, sku, quantity, price, bundle, shipping, product, flags) => new OrderLine
            {
                line_id = id,
                sku = sku,
                quantity = quantity,
                unit_price = price,
                is_bundle = bundle,
                requires_shipping = shipping,
                channel_product_id = product,
                flags = flags,
            });

    private static readonly Gen<double?> Coordinate =
        Gen.OneOf(Gen.Const((double?)null), Gen.Double.Select(d => (double?)d), Gen.OneOfConst<double?>(double.NaN, -0.0, double.PositiveInfinity, 45.41634));

    private static readonly Gen<Address?> AddressGen = Gen.OneOf(
        Gen.Const((Address?)null),
        Gen.Select(NullableText.Array[9], Coordinate, Coordinate).Select((t, lat, lon) => (Address?)new Address
        {
            name = t[0],
            company = t[1],
            line1 = t[2],
            line2 = t[3],
            city = t[4],
            region = t[5],
            postal_code = t[6],
            country_code = t[7],
            phone = t[8],
            latitude = lat,
            longitude = lon,
        }));

    private static readonly Gen<ChannelOrder> Order =
        Gen.Select(
            Gen.Select(Text, Gen.Enum<Channel>(), Text, Text, NullableText, Line.List[0, 5], AddressGen, Gen.Enum<ServiceLevel>()),
            Gen.Select(NullableText, Gen.Enum<FulfillmentChannel>(), Gen.Int, Time, NullableText, NullableText, Gen.OneOf(Gen.Const((DateTime?)null), Time.Select(t => (DateTime?)t)), NullableText))
        .Select((a, b) => new ChannelOrder
        {
            order_id = a.Item1,
            channel = a.Item2,
            shop_id = a.Item3,
            channel_order_id = a.Item4,
            order_number = a.Item5,
            lines = a.Item6,
            shipping_address = a.Item7,
            requested_service_level = a.Item8,
            requested_service_code = b.Item1,
            fulfillment_channel = b.Item2,
            priority = b.Item3,
            placed_at = b.Item4,
            currency = b.Item5,
            marketplace_id = b.Item6,
            latest_ship_at = b.Item7,
            channel_status = b.Item8,
        });

    private static readonly Gen<object> Body = Gen.OneOf(
        Order.Select(o => (object)new OrderPlaced { order = o }),
        Order.Select(o => (object)new OrderUpdated { order = o }),
        Gen.Select(Text, Gen.Enum<Channel>(), Text, Text, NullableText).Select((id, channel, shop, channelOrderId, reason) => (object)new OrderCancelled
        {
            order_id = id,
            channel = channel,
            shop_id = shop,
            channel_order_id = channelOrderId,
            reason = reason,
        }));

    [Fact]
    public void Writers_CompiledInSchemas_AreTheOnesTheyWereWrittenFor()
    {
        // Fails when RawIngestRecord or OrderEvent changes: IngestAvro must then follow the new schema and its
        // fingerprint constant be updated (until then the publisher falls back to the generic writer).
        SchemaNormalization.ParsingFingerprint64(RawIngestRecord._SCHEMA).ShouldBe(IngestAvro.RawIngestRecordFingerprint);
        SchemaNormalization.ParsingFingerprint64(OrderEvent._SCHEMA).ShouldBe(IngestAvro.OrderEventFingerprint);
        IngestAvro.RawRecordWritable.ShouldBeTrue();
        IngestAvro.OrderEventWritable.ShouldBeTrue();
    }

    [Fact]
    public void WriteRawRecord_AnyStoredDelivery_SameBytesAsTheGenericWriterOfToRawRecord()
    {
        // A small first buffer so that growing is exercised; one writer per sample (CsCheck samples on several threads).
        Gen.Select(Row, NullableText).Sample((row, correlationId) =>
        {
            var writer = new AvroBinaryWriter(16);
            IngestAvro.WriteRawRecord(writer, row, correlationId);
            writer.WrittenSpan.ToArray().ShouldBe(Generic(EventPublisher.ToRawRecord(row, correlationId)));
        });
    }

    [Fact]
    public void WriteOrderEvent_AnyPlacedUpdatedOrCancelledEvent_SameBytesAsTheGenericWriter()
    {
        Gen.Select(Metadata, Body).Sample((metadata, body) =>
        {
            var e = new OrderEvent { metadata = metadata, body = body };
            var writer = new AvroBinaryWriter(16);
            IngestAvro.WriteOrderEvent(writer, e);
            writer.WrittenSpan.ToArray().ShouldBe(Generic(e));
        });
    }

    private static byte[] Generic<T>(T record)
        where T : ISpecificRecord
    {
        using var stream = new MemoryStream();
        new SpecificDefaultWriter(record.Schema).Write(record, new BinaryEncoder(stream));
        return stream.ToArray();
    }
}
