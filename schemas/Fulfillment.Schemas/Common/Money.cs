using Avro;

namespace Fulfillment.Schemas.Common;

/// <summary>
/// Converts prices to and from the schemas' money type, Avro logical <c>decimal(18,4)</c> on bytes. Avro's C# writer
/// refuses an <see cref="AvroDecimal"/> whose scale differs from the schema's, so every value must be brought to scale 4.
/// </summary>
public static class Money
{
    /// <summary>Digits after the decimal point in every money field; covers every ISO 4217 minor unit.</summary>
    public const int Scale = 4;

    /// <summary>Total digits of every money field.</summary>
    public const int Precision = 18;

    private const decimal Limit = 100_000_000_000_000m; // 10^(Precision - Scale)

    /// <summary>The value at scale 4, ready for a money field.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value has more than 4 decimals (rounding money silently is a bug)
    /// or 15 or more integer digits.</exception>
    public static AvroDecimal ToAvro(decimal value)
    {
        if (decimal.Round(value, Scale) != value)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"Money has at most {Scale} decimals.");
        }

        if (Math.Abs(value) >= Limit)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"Money fits decimal({Precision},{Scale}).");
        }

        // Multiplying by 1.0000 adds four to the scale; rounding then brings it to exactly four, value unchanged.
        return new AvroDecimal(decimal.Round(value * 1.0000m, Scale));
    }

    /// <inheritdoc cref="ToAvro(decimal)"/>
    public static AvroDecimal? ToAvro(decimal? value) => value is { } v ? ToAvro(v) : null;

    /// <summary>The value of a money field as a .NET decimal.</summary>
    public static decimal FromAvro(AvroDecimal value) => value.ToType<decimal>();

    /// <inheritdoc cref="FromAvro(AvroDecimal)"/>
    public static decimal? FromAvro(AvroDecimal? value) => value is { } v ? FromAvro(v) : null;
}
