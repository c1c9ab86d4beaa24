using CsCheck;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Schemas.Tests;

public class MoneyTests
{
    [Theory]
    [InlineData("19.99")]
    [InlineData("5")]
    [InlineData("-0.0001")]
    [InlineData("99999999999999.9999")]
    public void ToAvro_AnyScaleUpToFour_GivesScaleFourAndSameValue(string text)
    {
        var value = decimal.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

        var avro = Money.ToAvro(value);

        avro.Scale.ShouldBe(Money.Scale);
        Money.FromAvro(avro).ShouldBe(value);
    }

    [Fact]
    public void ToAvro_MoreThanFourDecimals_Throws()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => Money.ToAvro(1.23456m));
    }

    [Fact]
    public void ToAvro_FifteenIntegerDigits_Throws()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => Money.ToAvro(100_000_000_000_000m));
    }

    [Fact]
    public void ToAvro_Null_IsNull()
    {
        Money.ToAvro((decimal?)null).ShouldBeNull();
        Money.FromAvro((Avro.AvroDecimal?)null).ShouldBeNull();
    }

    [Fact]
    public void ToAvro_RandomCents_RoundTripsThroughTheOrderLineSchema()
    {
        Gen.Long[-99_999_999_999_999L, 99_999_999_999_999L].Select(cents => cents / 100m).Sample(price =>
        {
            var line = new Orders.OrderLine { line_id = "1", sku = "SKU", quantity = 1, unit_price = Money.ToAvro(price) };

            var read = (Orders.OrderLine)AvroValues.Read(Orders.OrderLine._SCHEMA.ShouldBeOfType<Avro.RecordSchema>(), AvroValues.Write(line));

            Money.FromAvro(read.unit_price).ShouldBe(price);
        });
    }
}
