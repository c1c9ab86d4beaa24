using Avro;
using CsCheck;
using Fulfillment.Schemas.Sources;

namespace Fulfillment.Schemas.Tests;

public class RoundTripTests
{
    public static TheoryData<string> RecordNames() =>
        [.. EmbeddedSchemas.Current.Files.Select(f => f.Schema).OfType<RecordSchema>().Select(s => s.Fullname)];

    [Theory]
    [MemberData(nameof(RecordNames))]
    public void GeneratedRecord_RandomContent_RoundTripsThroughAvroBinaryUnchanged(string fullName)
    {
        var schema = (RecordSchema)EmbeddedSchemas.Current[fullName];

        AvroValues.For(schema).Sample(
            record =>
            {
                var bytes = AvroValues.Write(record);
                var read = AvroValues.Read(schema, bytes);

                AvroValues.FirstDifference(record, read).ShouldBeNull();
                AvroValues.Write(read).ShouldBe(bytes);
            },
            iter: 200);
    }

    [Theory]
    [MemberData(nameof(RecordNames))]
    public void GeneratedRecord_NewInstance_StartsAtSchemaDefaults(string fullName)
    {
        var schema = (RecordSchema)EmbeddedSchemas.Current[fullName];
        var record = (Avro.Specific.ISpecificRecord)Activator.CreateInstance(AvroValues.ClrTypeOf(schema))!;

        foreach (var field in schema.Fields.Where(f => f.DefaultValue is not null))
        {
            var value = record.Get(field.Pos);
            switch (field.DefaultValue.Type)
            {
                case Newtonsoft.Json.Linq.JTokenType.Null:
                    value.ShouldBeNull(field.Name);
                    break;
                case Newtonsoft.Json.Linq.JTokenType.Array or Newtonsoft.Json.Linq.JTokenType.Object:
                    value.ShouldNotBeNull(field.Name);
                    ((System.Collections.ICollection)value).Count.ShouldBe(0, field.Name);
                    break;
                case Newtonsoft.Json.Linq.JTokenType.String when field.Schema is EnumSchema:
                    value.ToString().ShouldBe((string?)field.DefaultValue, field.Name);
                    break;
                default:
                    value.ShouldBe(field.DefaultValue.ToObject(value!.GetType()), field.Name);
                    break;
            }
        }
    }

    [Fact]
    public void SampleOrder_RoundTrip_KeepsBodyTypeMoneyAndTimestamps()
    {
        var order = SampleData.OrderPlaced();

        var read = (Orders.OrderEvent)AvroValues.Read(Orders.OrderEvent._SCHEMA.ShouldBeOfType<RecordSchema>(), AvroValues.Write(order));

        var placed = read.body.ShouldBeOfType<Orders.OrderPlaced>();
        Common.Money.FromAvro(placed.order.lines[1].unit_price).ShouldBe(199m);
        placed.order.placed_at.ShouldBe(new DateTime(2026, 11, 23, 10, 15, 0, DateTimeKind.Utc));
        placed.order.placed_at.Kind.ShouldBe(DateTimeKind.Utc);
        placed.order.fulfillment_channel.ShouldBe(Orders.FulfillmentChannel.MFN);
        AvroValues.FirstDifference(order, read).ShouldBeNull();
    }

    [Fact]
    public void FirstDifference_NestedChange_IsReportedWithItsPath()
    {
        var original = SampleData.OrderPlaced();
        var changed = (Orders.OrderEvent)AvroValues.Read(Orders.OrderEvent._SCHEMA.ShouldBeOfType<RecordSchema>(), AvroValues.Write(original));
        ((Orders.OrderPlaced)changed.body).order.lines[1].flags.Clear();

        AvroValues.FirstDifference(original, changed).ShouldBe("/body/order/lines[1]/flags: expected 1 items, got 0");
    }
}
